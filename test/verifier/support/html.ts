/**
 * A small HTML reader for the tests of the HTML view: enough of the HTML syntax (tags, attributes,
 * text, raw-text elements, character references) to find elements and read them without a
 * browser. It is written from the syntax, not from our renderer, so it reads what a browser would.
 */

export interface HtmlElement {
  tag: string;
  attrs: Map<string, string>;
  children: HtmlNode[];
  parent?: HtmlElement;
}
export type HtmlNode = HtmlElement | string;

const VOID = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "wbr",
]);
const RAW_TEXT = new Set(["script", "style", "title", "textarea"]);
const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** Character references (`&amp;`, `&#39;`, `&#x27;`) decoded. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (all, ref: string) => {
    if (ref[0] === "#")
      return String.fromCodePoint(
        ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1)),
      );
    return NAMED[ref] ?? all;
  });
}

/** Parse a document into a tree under a synthetic `#document` element. Throws on unbalanced tags. */
export function parseHtml(html: string): HtmlElement {
  const root: HtmlElement = { tag: "#document", attrs: new Map(), children: [] };
  let current = root;
  let pos = 0;
  const tagRe =
    /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*(\/?)>/y;
  const attrRe = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  while (pos < html.length) {
    const lt = html.indexOf("<", pos);
    const end = lt < 0 ? html.length : lt;
    if (end > pos) current.children.push(decodeEntities(html.slice(pos, end)));
    if (lt < 0) break;
    if (html.startsWith("<!--", lt)) {
      const close = html.indexOf("-->", lt + 4);
      pos = close < 0 ? html.length : close + 3;
      continue;
    }
    if (html.startsWith("<!", lt)) {
      pos = html.indexOf(">", lt) + 1;
      continue;
    }
    tagRe.lastIndex = lt;
    const m = tagRe.exec(html);
    if (!m) {
      current.children.push("<");
      pos = lt + 1;
      continue;
    }
    pos = tagRe.lastIndex;
    const tag = m[2]!.toLowerCase();
    if (m[1] === "/") {
      if (current.tag !== tag) throw new Error(`</${tag}> closes <${current.tag}> at offset ${lt}`);
      current = current.parent!;
      continue;
    }
    const attrs = new Map<string, string>();
    for (const a of m[3]!.matchAll(attrRe))
      attrs.set(a[1]!.toLowerCase(), decodeEntities(a[2] ?? a[3] ?? a[4] ?? ""));
    const el: HtmlElement = { tag, attrs, children: [], parent: current };
    current.children.push(el);
    if (VOID.has(tag) || m[4] === "/") continue;
    if (RAW_TEXT.has(tag)) {
      const close = html.toLowerCase().indexOf(`</${tag}`, pos);
      if (close < 0) throw new Error(`<${tag}> at offset ${lt} is never closed`);
      const text = html.slice(pos, close);
      el.children.push(tag === "script" || tag === "style" ? text : decodeEntities(text));
      pos = html.indexOf(">", close) + 1;
      continue;
    }
    current = el;
  }
  if (current !== root) throw new Error(`<${current.tag}> is never closed`);
  return root;
}

/** Every element under `root` (depth first) for which `pred` holds. */
export function findAll(root: HtmlElement, pred: (e: HtmlElement) => boolean): HtmlElement[] {
  const out: HtmlElement[] = [];
  const walk = (e: HtmlElement) => {
    for (const c of e.children)
      if (typeof c !== "string") {
        if (pred(c)) out.push(c);
        walk(c);
      }
  };
  walk(root);
  return out;
}

/** The element with this id (exactly one, or it throws). */
export function byId(root: HtmlElement, id: string): HtmlElement {
  const found = findAll(root, (e) => e.attrs.get("id") === id);
  if (found.length !== 1) throw new Error(`${found.length} elements have id "${id}"`);
  return found[0]!;
}

/** Whether the element's class list has `name`. */
export function hasClass(e: HtmlElement, name: string): boolean {
  return (e.attrs.get("class") ?? "").split(/\s+/).includes(name);
}

/** The text content of an element. */
export function textOf(e: HtmlNode): string {
  return typeof e === "string" ? e : e.children.map(textOf).join("");
}

/**
 * The HTML view: one self-contained page (inline CSS and JS, no network) showing each instruction
 * beside the register and stack states the verifier printed there, the path it took (branches),
 * the failure and its explanation.
 */
import type { Explanation } from "./explain.js";
import { type ProgramText, programListing } from "./listing.js";
import type { VerifierLog } from "./parse.js";
import { LineKind } from "./records.js";

/** Options of {@link renderHtml}. */
export interface HtmlOptions {
  /** the page title (default "verifier log") */
  title?: string;
  /** the program, to list instructions the log does not show */
  insns?: ProgramText;
  /** most path steps embedded (default 20000) */
  maxPath?: number;
  /** most states kept per instruction (default 16) */
  maxStatesPerInsn?: number;
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
/** Escape text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** JSON safe to put inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

interface Step {
  /** instruction index, or -1 for a branch note */
  i: number;
  /** branch text (`from 6 to 11`) when i = -1 */
  b?: string;
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{padding:12px 20px;background:#fff;border-bottom:1px solid #ddd}
h1{font-size:18px;margin:0 0 4px}
.msg{font-family:ui-monospace,monospace;color:#b00020}
.explain{padding:8px 20px;background:#fff8e1;border-bottom:1px solid #eedd99}
.explain dt{font-weight:600;margin-top:6px}.explain dd{margin:2px 0 0 0}
main{display:flex;gap:16px;padding:12px 20px;align-items:flex-start}
table{border-collapse:collapse;font-family:ui-monospace,monospace;font-size:13px;background:#fff}
td{padding:1px 8px;border-bottom:1px solid #eee;vertical-align:top;white-space:pre}
tr.insn{cursor:pointer}tr.insn:hover{background:#eef}
tr.failing{background:#ffd6d6;font-weight:600}
tr.visited td.idx{color:#0a0}
td.state{color:#555;white-space:pre-wrap;max-width:60ch}
aside{position:sticky;top:8px;min-width:30ch;max-width:60ch;background:#fff;border:1px solid #ddd;padding:8px;font-family:ui-monospace,monospace;font-size:12px}
#path{max-height:40vh;overflow:auto}
.reg{display:block}
`;

const JS = `
(function(){
  var data = JSON.parse(document.getElementById('data').textContent);
  var panel = document.getElementById('states');
  function show(i){
    var list = data.states[i] || [];
    var html = '<h3>instruction ' + i + '</h3>';
    if (i === data.failing && data.failState.length) {
      html += '<p>state where it failed:</p>';
      data.failState.forEach(function(s){ html += '<span class="reg">' + esc(s) + '</span>'; });
    }
    html += '<p>' + list.length + ' state(s) printed here</p>';
    list.forEach(function(s){ html += '<span class="reg">' + esc(s) + '</span>'; });
    panel.innerHTML = html;
  }
  function esc(s){ return s.replace(/[&<>"']/g, function(c){ return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]; }); }
  document.querySelectorAll('tr.insn').forEach(function(tr){
    tr.addEventListener('click', function(){ show(Number(tr.dataset.index)); });
  });
  data.path.forEach(function(s){
    if (s.i >= 0) { var tr = document.getElementById('insn-' + s.i); if (tr) tr.classList.add('visited'); }
  });
  var pathEl = document.getElementById('path');
  pathEl.textContent = data.path.map(function(s){ return s.i >= 0 ? String(s.i) : '[' + s.b + ']'; }).join(' → ');
  if (data.failing >= 0) {
    var row = document.getElementById('insn-' + data.failing);
    if (row) { row.setAttribute('data-marked', 'failing'); row.scrollIntoView({block:'center'}); }
    show(data.failing);
  }
  document.body.setAttribute('data-ready', 'true');
})();
`;

/** Render a log (and its explanation) as one self-contained HTML page. */
export function renderHtml(log: VerifierLog, ex: Explanation | undefined, opts: HtmlOptions = {}): string {
  const maxPath = opts.maxPath ?? 20000;
  const maxStates = opts.maxStatesPerInsn ?? 16;
  const rows = programListing(log, opts.insns);
  const states: Record<number, string[]> = {};
  const path: Step[] = [];
  let truncated = false;
  for (let i = 0; i < log.lineCount; i++) {
    const k = log.kind(i);
    if (k === LineKind.insn) {
      const idx = log.insnIndex(i);
      if (path.length < maxPath) path.push({ i: idx });
      else truncated = true;
      const text = log.lineText(i);
      const semi = text.indexOf("; ", text.indexOf(")"));
      if (semi > 0) {
        const list = (states[idx] ??= []);
        if (list.length < maxStates) list.push(`after: ${text.slice(semi + 2)}`);
      }
    } else if (k === LineKind.state) {
      const idx = log.insnIndex(i);
      const list = (states[idx] ??= []);
      const text = log.lineText(i);
      if (list.length < maxStates) list.push(`before: ${text.slice(text.indexOf(":") + 2)}`);
    } else if (k === LineKind.branch) {
      const text = log.lineText(i);
      const colon = text.indexOf(":");
      if (path.length < maxPath) path.push({ i: -1, b: text.slice(0, colon < 0 ? text.length : colon) });
      const to = Number(/ to (\d+)/.exec(text)?.[1] ?? -1);
      if (to >= 0) {
        const list = (states[to] ??= []);
        if (list.length < maxStates) list.push(`branch ${text}`);
      }
    }
  }
  const failing = ex?.insn ?? -1;
  const failState: string[] = [];
  if (ex && ex.line >= 0 && log.kind(ex.line) === LineKind.insn) {
    for (const s of log.stateAt(ex.line).slots.values())
      failState.push(`${s.name}=${s.precise ? "P" : ""}${s.value}`);
  }
  const title = escapeHtml(opts.title ?? "verifier log");
  const body: string[] = [];
  body.push(`<header><h1>${title}</h1>`);
  if (ex) {
    body.push(
      `<div class="msg" id="error">${escapeHtml(ex.message)}${ex.insn !== undefined ? ` (instruction ${ex.insn})` : ""}</div>`,
    );
  } else body.push(`<div id="error">the log has no error</div>`);
  if (log.stats)
    body.push(
      `<div>processed ${log.stats.processedInsns} instructions, ${log.stats.totalStates} states (peak ${log.stats.peakStates})</div>`,
    );
  body.push("</header>");
  if (ex) {
    body.push(`<section class="explain" id="explanation"><strong>${escapeHtml(ex.summary)}</strong><dl>`);
    if (ex.source)
      body.push(
        `<dt>source</dt><dd><code>${escapeHtml(ex.source.code)}</code>${ex.source.file ? ` @ ${escapeHtml(ex.source.file)}:${ex.source.line ?? ""}` : ""}</dd>`,
      );
    if (ex.registers.length > 0) {
      body.push("<dt>registers</dt><dd>");
      for (const r of ex.registers)
        body.push(
          `<div><code>${escapeHtml(r.name)}=${escapeHtml(r.state?.value ?? "-")}</code> ${escapeHtml(r.description)}</div>`,
        );
      body.push("</dd>");
    }
    body.push(`<dt>rule</dt><dd>${escapeHtml(ex.rule)}</dd>`);
    if (ex.why) body.push(`<dt>why</dt><dd>${escapeHtml(ex.why)}</dd>`);
    body.push(`<dt>fix</dt><dd>${escapeHtml(ex.fix)}</dd>`);
    for (const r of ex.related)
      body.push(`<dt>also</dt><dd>${escapeHtml(r.message)} — ${escapeHtml(r.summary)}</dd>`);
    body.push("</dl></section>");
  }
  body.push('<main><table id="program"><tbody>');
  for (const r of rows) {
    const cls = r.index === failing ? "insn failing" : "insn";
    const list = states[r.index];
    const last = list && list.length > 0 ? list[list.length - 1]! : "";
    body.push(
      `<tr class="${cls}" id="insn-${r.index}" data-index="${r.index}"><td class="idx">${r.index}</td><td>(${r.opcode
        .toString(16)
        .padStart(2, "0")})</td><td>${escapeHtml(r.asm)}</td><td class="state">${escapeHtml(last)}</td></tr>`,
    );
  }
  body.push("</tbody></table>");
  body.push(
    `<aside><div id="states">click an instruction to see its states</div><h3>path</h3><div id="path"></div>${truncated ? `<p>(path cut at ${maxPath} steps)</p>` : ""}</aside></main>`,
  );
  const data = { failing, failState, states, path };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>${CSS}</style></head>
<body>
${body.join("\n")}
<script type="application/json" id="data">${scriptJson(data)}</script>
<script>${JS}</script>
</body></html>
`;
}

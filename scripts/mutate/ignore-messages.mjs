/**
 * A Stryker ignorer (`ignorers: ["messages"]` in scripts/mutate.mjs): no mutants in the text of an
 * error message, only in the code that decides to throw it.
 *
 * Ignored: the arguments of `new SomethingError(...)`, and the `what` that callers pass down for
 * messages (`{ what: ... }`, `const what = ...`). That text is for a human reading the error; a
 * mutant that empties it or flips a `?:` inside it changes no behaviour a test could check other
 * than by comparing the exact words, and such tests would pin the wording rather than the
 * behaviour. The condition before the throw, the class thrown and the errno carried (code that
 * callers branch on) stay mutated: the ignorer never skips a `throw`, an `if`, or the errno
 * argument of a BpfError that is not a string.
 */
const MESSAGE_NAMES = new Set(["what", "hint", "says"]);

const isErrorClass = (callee) => callee?.type === "Identifier" && /Error$/.test(callee.name);

/** Whether a node is text: a string, a template, or a concatenation of those. */
function isText(node) {
  if (!node) return false;
  if (node.type === "StringLiteral" || node.type === "TemplateLiteral") return true;
  if (node.type === "BinaryExpression" && node.operator === "+")
    return isText(node.left) || isText(node.right);
  return false;
}

const messages = {
  shouldIgnore(path) {
    const parent = path.parent;
    // the text argument(s) of new XxxError(...)
    if (parent?.type === "NewExpression" && path.listKey === "arguments" && isErrorClass(parent.callee)) {
      if (isText(path.node)) return "the text of an error message";
    }
    // { what: ... } as a whole: an options object that only names the thing for messages
    if (
      path.node.type === "ObjectExpression" &&
      path.node.properties.length > 0 &&
      path.node.properties.every((p) => p.type === "ObjectProperty" && MESSAGE_NAMES.has(p.key?.name))
    )
      return "only the words of error messages";
    // { what: `...` } and const what = `...`: the words a message is made of
    if (parent?.type === "ObjectProperty" && path.key === "value" && MESSAGE_NAMES.has(parent.key?.name)) {
      if (isText(path.node)) return "the text of an error message";
    }
    if (parent?.type === "VariableDeclarator" && path.key === "init" && MESSAGE_NAMES.has(parent.id?.name)) {
      if (isText(path.node) || path.node.type === "ConditionalExpression")
        return "the text of an error message";
    }
    return undefined;
  },
};

export const strykerPlugins = [{ kind: "Ignore", name: "messages", value: messages }];

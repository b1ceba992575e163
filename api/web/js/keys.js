// The queue's keyboard: one table of keys (also what the `?` overlay lists) bound to the page's actions.
// Keys are ignored while the reader types in a field, and with Ctrl/Alt/Meta held, so browser shortcuts and
// text entry keep working; Escape always reaches the page (it closes overlays).

/** key -> the action it runs and the message describing it in the help overlay. */
export const KEYS = [
  { keys: ["j"], action: "down", help: "keys.down" },
  { keys: ["k"], action: "up", help: "keys.up" },
  { keys: ["Enter"], action: "open", help: "keys.open" },
  { keys: ["c"], action: "confirm", help: "keys.confirm" },
  { keys: ["d"], action: "dismiss", help: "keys.dismiss" },
  { keys: ["x"], action: "select", help: "keys.select" },
  { keys: ["?"], action: "help", help: "keys.help" },
  { keys: ["Escape"], action: "escape", help: "keys.escape" },
];

const BY_KEY = new Map(KEYS.flatMap((k) => k.keys.map((key) => [key, k.action])));
const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);
const PRESSABLE = new Set(["BUTTON", "A", "SUMMARY"]);

function typing(target) {
  return !!target && (TYPING.has(target.tagName) || target.isContentEditable);
}

/** The action a keydown asks for, or null when the page should leave the key alone. */
export function actionFor(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return null;
  const action = BY_KEY.get(event.key);
  if (!action) return null;
  if (action === "escape") return action;
  if (typing(event.target)) return null;
  // Enter on a focused button or link presses that, not the queue's row
  if (action === "open" && PRESSABLE.has(event.target && event.target.tagName)) return null;
  return action;
}

/** Call `handlers[action]()` for the keys above; `blocked()` true (a dialog open) lets only Escape through.
 * Returns the function that unbinds. */
export function bindKeys(handlers, blocked = () => false) {
  const onKey = (event) => {
    const action = actionFor(event);
    if (!action || (action !== "escape" && blocked())) return;
    const handler = handlers[action];
    if (!handler) return;
    event.preventDefault();
    handler(event);
  };
  window.addEventListener("keydown", onKey);
  return () => window.removeEventListener("keydown", onKey);
}

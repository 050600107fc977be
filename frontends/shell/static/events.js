// Events between fragments carry what changed. A fragment announces an
// event with details (catalog's product detail answers
// HX-Trigger: {"catalog-variant-selected": {"id": "…", "sku": "…"}}), and a
// fragment that follows it declares hx-trigger="catalog-variant-selected
// from:body". Here the request that such an event triggers gets the event's
// details as parameters, so the listener needs nothing of the sender's
// markup. htmx's own hx-vals="js:…" would do the same but needs eval, which
// the page's Content-Security-Policy forbids.
document.documentElement.classList.add("js");
document.addEventListener("htmx:configRequest", function (e) {
  var trigger = e.detail.triggeringEvent;
  if (!trigger || !trigger.detail || trigger.type.indexOf(":") >= 0) {
    return; // a DOM or htmx event, not one between fragments
  }
  Object.keys(trigger.detail).forEach(function (name) {
    if (typeof trigger.detail[name] === "string") {
      e.detail.parameters[name] = trigger.detail[name];
    }
  });
});

/* papers-digest: progressive enhancement only; every page works without this file.
   - pre-fills the time zone from the browser on a fresh form;
   - adds an "Add another topic" button on the preferences page;
   - refreshes the digest preview as the reader edits (debounced fetch of an HTML fragment). */
(function () {
  "use strict";

  function prefillTimezone() {
    var select = document.querySelector('select[data-browser-timezone="on"]');
    if (!select) return;
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) return;
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) { select.value = zone; return; }
    }
    // Not in the list: an older name the browser still uses (Asia/Calcutta, Europe/Kiev).
    // The server accepts any IANA name, so offer it as it is, first, selected.
    if (!/^[A-Za-z0-9_+\-]+(\/[A-Za-z0-9_+\-]+)*$/.test(zone)) return;
    var option = new Option(zone, zone, true, true);
    select.insertBefore(option, select.firstChild);
    select.value = zone;
  }

  function addTopicButton(form, onChange) {
    var rows = form.querySelector("[data-topic-rows]");
    if (!rows) return;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "add-topic";
    button.textContent = "Add another topic";
    button.addEventListener("click", function () {
      var all = rows.querySelectorAll(".topic-row");
      var last = all[all.length - 1];
      var copy = last.cloneNode(true);
      var n = all.length + 1;
      copy.querySelectorAll("input, textarea").forEach(function (input) {
        var kind = input.name;
        input.value = "";
        input.id = kind + "-" + n;
        input.removeAttribute("aria-invalid");
      });
      copy.querySelectorAll("label").forEach(function (label) {
        var kind = label.htmlFor.split("-")[0];
        label.htmlFor = kind + "-" + n;
        label.textContent = "Topic " + n + (kind === "topic_name" ? " name"
          : kind === "topic_like" ? ": papers like these (arXiv ids or titles, one a line)"
          : " query");
      });
      copy.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
      rows.appendChild(copy);
      copy.querySelector("input").focus();
      onChange();
    });
    rows.parentNode.insertBefore(button, rows.nextSibling);
  }

  function livePreview() {
    var form = document.querySelector("form[data-preview]");
    var target = document.getElementById("preview");
    if (!form || !target || !window.fetch || !window.URLSearchParams) return;
    var url = form.getAttribute("data-preview");
    var timer = null;
    var controller = null;
    var sequence = 0;

    function refresh() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, key) {
        if (typeof value === "string" && key !== "csrf_token") params.append(key, value);
      });
      var email = document.querySelector("a[data-email-preview]");
      if (email) email.href = email.pathname + "?" + params.toString();
      if (controller && controller.abort) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      var mine = ++sequence;
      target.setAttribute("aria-busy", "true");
      fetch(url + "?" + params.toString(), {
        credentials: "same-origin",
        headers: { "Accept": "text/html" },
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) throw new Error("preview: HTTP " + response.status);
        return response.text();
      }).then(function (html) {
        if (mine === sequence) target.innerHTML = html;
      }).catch(function () { /* keep the last good preview */ }).then(function () {
        if (mine === sequence) target.removeAttribute("aria-busy");
      });
    }

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 350);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    addTopicButton(form, schedule);
  }

  function autosubmit() {
    // A feedback link's page records the rating by POST; with scripts on, the reader need not
    // press the button. Once only: going back to the page does not submit again.
    var form = document.querySelector('form[data-autosubmit="feedback"]');
    if (!form || form.dataset.sent) return;
    form.dataset.sent = "1";
    form.submit();
  }

  function start() {
    autosubmit();
    prefillTimezone();
    livePreview();
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

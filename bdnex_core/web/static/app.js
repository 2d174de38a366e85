// bdnex-core web: keyboard shortcuts (? lists them), live progress of a running session.
"use strict";

function typing(target) {
  return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
}

function submit(form) {
  if (!form) return false;
  var button = form.querySelector("button");
  if (button && button.disabled) return false;
  form.submit();
  return true;
}

function follow(id) {
  var link = document.getElementById(id);
  if (!link) return false;
  window.location.href = link.href;
  return true;
}

function toggleKeys() {
  var dialog = document.getElementById("keys");
  if (!dialog || typeof dialog.showModal !== "function") return;
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  var dialog = document.getElementById("keys");
  if (dialog && dialog.open) return; // the dialog handles Esc itself
  var done = false;
  if (event.key === "?") { toggleKeys(); done = true; }
  else if (/^[1-5]$/.test(event.key)) done = submit(document.querySelector('form.choose[data-key="' + event.key + '"]'));
  else if (event.key === "s") done = submit(document.getElementById("skip-form"));
  else if (event.key === "u") done = submit(document.getElementById("undo-form"));
  else if (event.key === "n") done = follow("next");
  else if (event.key === "p") done = follow("previous");
  else if (event.key === "Enter" && event.target === document.body) done = submit(document.querySelector("form.accept"));
  else if (event.key === "Escape" || event.key === "Backspace") done = follow("cancel");
  else if (event.key === "/") {
    var field = document.getElementById("search") || document.getElementById("filter");
    if (field) { field.focus(); field.select(); done = true; }
  }
  if (done) event.preventDefault();
});

function followProgress(box) {
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (progress) {
        box.querySelectorAll("[data-field]").forEach(function (span) {
          var value = progress[span.getAttribute("data-field")];
          if (value !== undefined && value !== null) span.textContent = value;
        });
        if (bar) { bar.max = progress.total_files || 1; bar.value = progress.files_processed || 0; }
        if (progress.display_status === "running") setTimeout(poll, 1500);
        else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1500);
}

document.addEventListener("DOMContentLoaded", function () {
  var box = document.querySelector("[data-progress-url]");
  if (box) followProgress(box);
  var button = document.getElementById("keys-button");
  if (button) button.addEventListener("click", toggleKeys);
});

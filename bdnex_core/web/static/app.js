// bdnex-core web: keyboard shortcuts on the review page, live progress of a running session.
"use strict";

function typing(target) {
  return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
}

document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  var form = null;
  if (/^[1-5]$/.test(event.key)) form = document.querySelector('form.accept[data-key="' + event.key + '"]');
  else if (event.key === "s") form = document.getElementById("skip-form");
  else if (event.key === "u") form = document.getElementById("undo-form");
  else if (event.key === "/") {
    var search = document.getElementById("search");
    if (search) { event.preventDefault(); search.focus(); search.select(); }
    return;
  }
  if (form) {
    var button = form.querySelector("button");
    if (button && button.disabled) return;
    event.preventDefault();
    form.submit();
  }
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
});

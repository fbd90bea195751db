// Corral console: local times, confirmations, small conveniences. No framework, no network.
"use strict";

function localTimes(root) {
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const moment = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) {
      el.title = el.getAttribute("datetime");
      el.textContent = format.format(moment);
    }
  }
}

function confirmations(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function toggles(root) {
  for (const button of root.querySelectorAll("[data-toggle]")) {
    button.addEventListener("click", () => {
      const target = document.getElementById(button.dataset.toggle);
      if (target) {
        target.hidden = !target.hidden;
        button.setAttribute("aria-expanded", String(!target.hidden));
      }
    });
  }
}

function timeRanges(root) {
  // Times typed into filters are the viewer's local time: send the zone's offset with them.
  for (const field of root.querySelectorAll("input[data-tz]")) {
    field.value = String(-new Date().getTimezoneOffset());
  }
  for (const select of root.querySelectorAll("select[data-range]")) {
    const custom = select.form.querySelectorAll("[data-custom-range]");
    const show = () => { for (const el of custom) el.hidden = select.value !== "custom"; };
    select.addEventListener("change", show);
    show();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  timeRanges(document);
  confirmations(document);
  toggles(document);
});

// Small page behaviour, no library: live progress, and form fields that depend on a choice.
"use strict";

function followProgress(box) {
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-progress-text]");
  const estimate = parseInt(box.dataset.estimatedRows, 10) || 0;
  async function poll() {
    let job;
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (response.redirected) {
        window.location.reload(); // signed out meanwhile: the page leads to the sign-in form
        return;
      }
      if (!response.ok) throw new Error(response.status);
      job = await response.json();
    } catch (error) {
      text.textContent = "Waiting for the server…";
      setTimeout(poll, 2000);
      return;
    }
    if (job.status !== "queued" && job.status !== "running") {
      bar.value = 100;
      window.location.reload();
      return;
    }
    if (job.phase === "applying") {
      // Reading is most of the work; applying is a few set-based statements.
      bar.value = 95;
      text.textContent = `${job.rows_done.toLocaleString()} rows read; saving the contacts…`;
    } else {
      if (estimate) bar.value = Math.min(90, (90 * job.rows_done) / estimate);
      else bar.removeAttribute("value");
      text.textContent = `${job.rows_done.toLocaleString()} rows read`
        + (estimate ? ` of about ${estimate.toLocaleString()}` : "");
    }
    setTimeout(poll, 400);
  }
  poll();
}

function toggleWith(select, target, showWhen) {
  const update = () => target.classList.toggle("hidden", !showWhen(select.value));
  select.addEventListener("change", update);
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-progress-url]").forEach(followProgress);
  document.querySelectorAll("select[data-new-field]").forEach((select) => {
    toggleWith(select, document.getElementById(select.dataset.newField), (v) => v === "__new__");
  });
  document.querySelectorAll("select[data-toggles]").forEach((select) => {
    toggleWith(select, document.getElementById(select.dataset.toggles), (v) => v !== "");
  });
});

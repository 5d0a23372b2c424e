// Progressive enhancement only: every task works without this file.
import { initAll } from "./govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// Session timeout warning (WCAG 2.2.1): opens `warn` seconds before the session would end for inactivity.
const dialog = document.getElementById("timeout-warning");
if (dialog && typeof dialog.showModal === "function") {
  const idle = Number(dialog.dataset.idleSeconds);
  const warn = Number(dialog.dataset.warnSeconds);
  const countdown = dialog.querySelector(".portal-timeout__countdown");
  let deadline = 0;
  let warnTimer = 0;
  let tick = 0;

  const signOut = () => { window.location.assign(dialog.dataset.signedOut); };
  const describe = (seconds) => {
    const minutes = Math.ceil(seconds / 60);
    return seconds > 60 ? `${minutes} minutes` : `${Math.max(seconds, 0)} seconds`;
  };
  const update = () => {
    const left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) { signOut(); return; }
    countdown.textContent = `For your security, we will sign you out in ${describe(left)}.`;
  };
  const arm = () => {
    deadline = Date.now() + idle * 1000;
    clearTimeout(warnTimer);
    clearInterval(tick);
    warnTimer = setTimeout(() => {
      update();
      dialog.showModal();
      tick = setInterval(update, 1000);
    }, Math.max(idle - warn, 0) * 1000);
  };
  const stay = document.getElementById("stay-signed-in");
  stay.addEventListener("click", async () => {
    const token = document.getElementById("csrf-token").value;
    const reply = await fetch(dialog.dataset.keepAlive, {
      method: "POST", headers: { "X-CSRFToken": token }, credentials: "same-origin",
    });
    if (!reply.ok || reply.redirected) { signOut(); return; }
    dialog.close();
    arm();
  });
  dialog.addEventListener("cancel", (event) => {  // Escape means "stay signed in", as closing the warning
    event.preventDefault();
    stay.click();
  });
  arm();
}

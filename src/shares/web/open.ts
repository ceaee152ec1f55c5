// The share pages' script, served as text by ../pages.ts: bundled into the Worker as a string
// (no build step, no extra modules). Plain browser code without template literals, so it
// sits in String.raw unchanged; keep it that way (no backticks, no "${").
export default String.raw`// The share page (/s/{id}): nothing is consumed until a person presses Reveal and then
// confirms. See docs/shares.md for what this does and does not stop.
"use strict";
(() => {
  const { decrypt, postJson, show, localizeTimes, copyFrom } = window.hushShare;
  localizeTimes();
  const root = document.getElementById("share");
  if (!root || root.dataset.state !== "active") return;

  const id = root.dataset.id;
  const sealed = root.dataset.mode === "sealed";
  const error = document.getElementById("reveal-error");
  const revealButton = document.getElementById("reveal");
  const confirmBox = document.getElementById("confirm");
  const confirmButton = document.getElementById("confirm-reveal");
  const passphrase = document.getElementById("passphrase");
  // The fragment never reaches the server: it is the decryption key (or, for a server-sealed share, its token).
  const secretPart = decodeURIComponent(location.hash.slice(1));
  const CONFIRM_DELAY_MS = 800;
  let nonce = null;

  if (!secretPart) {
    show(error, "This link is incomplete: the part after # is missing. Ask the sender to send the whole link.");
    revealButton.disabled = true;
    return;
  }

  async function fetchNonce() {
    const res = await postJson("/api/v1/shares/" + id + "/nonce");
    if (res.status === 200) {
      nonce = res.data.nonce;
      return true;
    }
    gone(res);
    return false;
  }

  function gone(res) {
    show(error, res.data.detail || "This secret is not available (" + res.status + ").");
    revealButton.hidden = true;
    confirmBox.hidden = true;
    if (passphrase) passphrase.disabled = true;
  }

  // Scripts that "click" buttons with element.click() produce untrusted events; ignore them.
  revealButton.addEventListener("click", (event) => {
    if (!event.isTrusted) return;
    error.hidden = true;
    if (passphrase && !passphrase.value) {
      show(error, "Type the passphrase the sender gave you.");
      passphrase.focus();
      return;
    }
    revealButton.hidden = true;
    confirmBox.hidden = false;
    confirmButton.disabled = true;
    setTimeout(() => (confirmButton.disabled = false), CONFIRM_DELAY_MS);
  });

  document.getElementById("cancel").addEventListener("click", () => {
    confirmBox.hidden = true;
    revealButton.hidden = false;
  });

  confirmButton.addEventListener("click", async (event) => {
    if (!event.isTrusted) return;
    confirmButton.disabled = true;
    error.hidden = true;
    try {
      await reveal(true);
    } catch {
      show(error, "Could not reveal the secret; check your connection and try again.");
      confirmButton.disabled = false;
    }
  });

  async function reveal(retryNonce) {
    if (!nonce && !(await fetchNonce())) return;
    const body = { nonce };
    if (passphrase && passphrase.value) body.passphrase = passphrase.value;
    if (sealed) body.token = secretPart;
    const res = await postJson("/api/v1/shares/" + id + "/reveal", body);
    if (res.status === 200) return showSecret(res.data);
    const type = String(res.data.type || "");
    if (res.status === 403 && /nonce/.test(type) && retryNonce) {
      nonce = null;
      return reveal(false);
    }
    if (res.status === 403 && /wrong-passphrase|passphrase-required/.test(type) && res.data.attempts_left !== 0) {
      show(error, res.data.detail);
      confirmBox.hidden = true;
      revealButton.hidden = false;
      passphrase.select();
      return;
    }
    gone(res);
  }

  async function showSecret(data) {
    let value;
    if (sealed) {
      value = data.value;
    } else {
      try {
        value = await decrypt(secretPart, data.ciphertext);
      } catch {
        confirmBox.hidden = true;
        return show(error, "The secret could not be decrypted: the link is damaged or incomplete. It has been used up; ask the sender for a new one.");
      }
    }
    const output = document.getElementById("secret");
    output.value = value;
    output.rows = Math.min(12, Math.max(3, value.split("\n").length + 1));
    document.getElementById("views-after").textContent =
      data.views_left === 0 ? "This was the only view: the secret is now deleted from the server." : "It can be viewed " + data.views_left + " more time(s).";
    confirmBox.hidden = true;
    if (passphrase) passphrase.closest("div").hidden = true;
    document.getElementById("before").hidden = true;
    document.getElementById("revealed").hidden = false;
    nonce = null;
  }

  document.getElementById("copy").addEventListener("click", (event) => copyFrom(document.getElementById("secret"), event.currentTarget));

  fetchNonce().catch(() => show(error, "Could not reach the server; check your connection and reload."));
})();
`;

// The share pages' script, served as text by ../pages.ts: bundled into the Worker as a string
// (no build step, no extra modules). Plain browser code without template literals, so it
// sits in String.raw unchanged; keep it that way (no backticks, no "${").
export default String.raw`// The create page (/ and /share): encrypts in the browser and sends only ciphertext.
"use strict";
(() => {
  const { encrypt, postJson, show, localizeTimes, copyFrom } = window.hushShare;
  const form = document.getElementById("create");
  const error = document.getElementById("create-error");
  const button = document.getElementById("create-button");
  const secret = document.getElementById("secret");
  const result = document.getElementById("result");
  const link = document.getElementById("link");
  const maxBytes = Number(form.dataset.maxBytes);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const text = secret.value;
    if (!text) return show(error, "Type or paste the secret first.");
    if (new TextEncoder().encode(text).length > maxBytes) return show(error, "The secret is too large (at most " + maxBytes + " bytes).");
    button.disabled = true;
    button.textContent = "Encrypting…";
    try {
      const { key, ciphertext } = await encrypt(text);
      const body = {
        ciphertext,
        expires_in_seconds: Number(document.getElementById("expires").value),
        max_views: Number(document.getElementById("views").value),
      };
      const passphrase = document.getElementById("passphrase").value;
      if (passphrase) body.passphrase = passphrase;
      const token = document.getElementById("token");
      const headers = token && token.value ? { authorization: "Bearer " + token.value.trim() } : {};
      const res = await postJson("/api/v1/shares", body, headers);
      if (res.status !== 201) {
        const reason =
          res.status === 429
            ? "Too many secrets shared from your network just now; wait a minute and try again."
            : res.data.detail || "The server refused (" + res.status + ").";
        return show(error, reason);
      }
      link.value = res.data.url + "#" + key;
      const expires = document.getElementById("result-expires");
      expires.dateTime = res.data.expires_at;
      expires.textContent = res.data.expires_at;
      localizeTimes(result);
      document.getElementById("result-views").textContent = body.max_views === 1 ? "once" : body.max_views + " times";
      secret.value = "";
      document.getElementById("passphrase").value = "";
      form.hidden = true;
      result.hidden = false;
      link.focus();
      link.select();
    } catch {
      show(error, "Could not encrypt or send the secret; check your connection and try again.");
    } finally {
      button.disabled = false;
      button.textContent = "Create link";
    }
  });

  document.getElementById("copy-link").addEventListener("click", (event) => copyFrom(link, event.currentTarget));
  document.getElementById("again").addEventListener("click", () => {
    link.value = "";
    result.hidden = true;
    form.hidden = false;
    secret.focus();
  });
})();
`;

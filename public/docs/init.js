// The API reference's initializer: its own file, so the page needs no inline script (CSP script-src 'self').

window.addEventListener("DOMContentLoaded", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis],
    deepLinking: true,
    filter: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    showExtensions: true,
    // No badge from validator.swagger.io: nothing leaves this origin.
    validatorUrl: null,
    // The bearer token typed into Authorize stays in this page's memory, never in localStorage.
    persistAuthorization: false,
    // Try-it sends requests to this deployment only.
    tryItOutEnabled: false,
  });
});

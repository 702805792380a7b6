// Starts Swagger UI (vendored in swagger-ui/) on the stats API's OpenAPI document. A file of
// its own, not an inline script, so the page's CSP can say script-src 'self'.
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});

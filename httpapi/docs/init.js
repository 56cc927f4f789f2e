// Renders arbor's OpenAPI document, served beside this page at
// /openapi.json, with the Swagger UI bundle arbor embeds. No other host is
// contacted: the validator badge is off and every file is arbor's own.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});

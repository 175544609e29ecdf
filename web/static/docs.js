// Starts Swagger UI (assets from the swagger-ui-bundle Python package, served by the proxy).
// The bundled Swagger UI 4 renders OpenAPI 3.0 only: the 3.1 document is shown through a
// small downgrade of the constructs it does not know (type arrays with "null", const).
"use strict";

(function () {
  function downgrade(node) {
    if (Array.isArray(node)) return node.map(downgrade);
    if (!node || typeof node !== "object") return node;
    var out = {};
    Object.keys(node).forEach(function (key) { out[key] = downgrade(node[key]); });
    if (Array.isArray(out.type)) {
      var types = out.type.filter(function (t) { return t !== "null"; });
      if (types.length !== out.type.length) out.nullable = true;
      out.type = types.length === 1 ? types[0] : undefined;
      if (out.type === undefined) delete out.type;
      if (Array.isArray(out.enum)) out.enum = out.enum.filter(function (v) { return v !== null; });
    }
    if (Array.isArray(out.anyOf)) {
      var rest = out.anyOf.filter(function (s) { return !(s && s.type === "null"); });
      if (rest.length !== out.anyOf.length) {
        out.nullable = true;
        if (rest.length === 1) { delete out.anyOf; Object.assign(out, rest[0]); } else out.anyOf = rest;
      }
    }
    if ("const" in out) { out.enum = [out.const]; delete out.const; }
    return out;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof SwaggerUIBundle === "undefined") return;
    fetch(root.dataset.specUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (spec) {
        var shown = downgrade(spec);
        shown.openapi = "3.0.3";
        SwaggerUIBundle({
          spec: shown,
          domNode: root,
          deepLinking: true,
          presets: [SwaggerUIBundle.presets.apis],
          layout: "BaseLayout",
          requestInterceptor: function (request) {
            var match = document.cookie.match(/(?:^|; )bsp_csrf=([^;]*)/);
            if (match && request.method && !/^(GET|HEAD|OPTIONS)$/i.test(request.method)) {
              request.headers["X-CSRF-Token"] = decodeURIComponent(match[1]);
            }
            return request;
          },
        });
      })
      .catch(function (error) {
        root.textContent = "Cannot load the API document: " + error;
      });
  });
})();

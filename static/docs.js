// Renders /openapi.json with swagger-ui (a file, not an inline script, so a strict CSP can allow it).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });

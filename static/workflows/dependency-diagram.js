// Draws the template page's dependency graph from the Mermaid text the server wrote.
// Strict security: labels are text, never HTML or links.
(function () {
  function draw() {
    if (!window.mermaid) return;
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    window.mermaid.run({ querySelector: "pre.mermaid" }).then(function () {
      document.querySelectorAll("pre.mermaid").forEach(function (node) {
        node.setAttribute("data-drawn", "true");
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

// Draw every ```mermaid block of a page (pymdownx.superfences renders them as <div class="mermaid">).
if (window.mermaid) {
  window.mermaid.initialize({ startOnLoad: true, securityLevel: "strict" });
}

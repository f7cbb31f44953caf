// MathJax 3 settings for pymdownx.arithmatex (generic mode). MathJax itself is served from
// assets/mathjax/, a copy kept in the repository (its README.md says which): no request leaves the site.
// MathJax typesets each page once, on load (the theme's instant navigation is off, so every page is a
// fresh load; re-typesetting with cleared caches would drop the glyph styles).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

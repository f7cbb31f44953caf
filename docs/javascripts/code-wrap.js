// Code wraps at the edge of the column (stylesheets/extra.css). A wrapped line goes on 4 columns
// deeper than the line's own indentation, as a continuation line of Python would.
document.querySelectorAll('.md-typeset pre > code > [id^="__span-"]').forEach((line) => {
  const indent = /^ */.exec(line.textContent)[0].length;
  if (indent > 0) {
    line.style.setProperty("--hang", `${indent + 4}ch`);
  }
});

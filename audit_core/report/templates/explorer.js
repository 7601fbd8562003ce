// DynaNoise explorer: the sliders snap to the grid's values and the page shows the numbers precomputed there
// (audit_core/report/explorer.py); nothing is recomputed and nothing per record is embedded.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("explorer-data").textContent);
  const PARAMS = ["sigma0_sq", "lam", "temperature"];
  const SLIDERS = { sigma0_sq: "ex-sigma", lam: "ex-lam", temperature: "ex-temp" };
  const $ = (id) => document.getElementById(id);
  const fmt = (v, digits) => v.toFixed(digits);
  // a parameter to 3 decimals; one below 0.001 (a narrow search range's) to 2 significant digits
  const fmtParam = (v) => (v !== 0 && Math.abs(v) < 0.001 ? v.toPrecision(2) : fmt(v, 3));

  function flatIndex(position) {  // row-major over [sigma0_sq, lam, T], as numpy's ravel
    return PARAMS.reduce((index, p) => index * data.axes[p].length + position[p], 0);
  }
  function budgetCell(drop, budget) {  // mirrors audit_core/report/explorer.py budget_cell
    const shown = +fmt(drop, 4);
    return shown <= budget ? "yes" : `no (over by ${fmt(shown - budget, 4)})`;
  }
  function update() {
    const position = {};
    for (const p of PARAMS) {
      position[p] = +$(SLIDERS[p]).value;
      $(`${SLIDERS[p]}-out`).textContent = fmtParam(data.axes[p][position[p]]);
    }
    const at = flatIndex(position);
    $("ex-accuracy").textContent = fmt(data.accuracy[at], 4);
    $("ex-auc-loss").textContent = fmt(data.auc_loss[at], 4);
    $("ex-auc-conf").textContent = fmt(data.auc_confidence[at], 4);
    const drop = data.undefended_accuracy - data.accuracy[at];
    $("ex-drop").textContent = fmt(drop, 4);
    if (data.budget !== null) $("ex-budget").textContent = budgetCell(drop, data.budget);
  }
  function moveTo(position) {  // data.chosen or data.paper: indices on the axes
    for (const p of PARAMS) $(SLIDERS[p]).value = position[p];
    update();
  }
  for (const p of PARAMS) $(SLIDERS[p]).addEventListener("input", update);
  $("ex-reset").addEventListener("click", () => moveTo(data.chosen));
  $("ex-paper").addEventListener("click", () => moveTo(data.paper));
  $("explorer").classList.add("live");
  moveTo(data.chosen);
})();

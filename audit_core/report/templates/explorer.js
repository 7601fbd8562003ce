// DynaNoise explorer: recomputes the defense for the slider values from the embedded logits sample.
// Mirrors audit_core/report/explorer.py exactly (same generator, same order of draws).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("explorer-data").textContent);
  const K = data.records[0].logits.length;
  const GOLDEN = 0x6D2B79F5;

  function uniform(seed, index) {  // output `index` of mulberry32(seed): a counter-based hash
    let a = (seed + Math.imul(index + 1, GOLDEN)) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  function normal(seed, n) {
    const u1 = uniform(seed, 2 * n), u2 = uniform(seed, 2 * n + 1);
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }
  function softmax(z, temperature) {
    let m = -Infinity;
    for (const v of z) m = Math.max(m, v / temperature);
    const e = z.map((v) => Math.exp(v / temperature - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  }
  function sensitivity(z) {  // R = 1 - H(softmax z) / log k, with the reference implementation's 1e-9
    const p = softmax(z, 1);
    let h = 0;
    for (const v of p) h -= v * Math.log(v + 1e-9);
    return { p: p, h: h, r: 1 - h / Math.log(K + 1e-9) };
  }
  function defended(z, params, seed, firstNormal) {
    const variance = params.sigma0_sq * (1 + params.lam * sensitivity(z).r);
    const std = Math.sqrt(variance);
    const noisy = z.map((v, j) => v + std * normal(seed, firstNormal + j));
    return softmax(noisy, params.temperature);
  }
  function auc(scores, member) {  // rank statistic, ties count one half
    let wins = 0, m = 0, n = 0;
    for (let i = 0; i < scores.length; i++) {
      if (!member[i]) continue;
      m++;
      for (let j = 0; j < scores.length; j++) {
        if (member[j]) continue;
        wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    for (const x of member) if (!x) n++;
    return wins / (m * n);
  }
  function setMetrics(params) {
    const records = data.records, test = data.test;
    const perDraw = (records.length + test.logits.length) * K;
    const member = records.map((r) => r.member);
    let acc = 0, aucLoss = 0, aucConf = 0;
    for (let d = 0; d < data.draws; d++) {
      const base = d * perDraw;
      const loss = [], conf = [];
      records.forEach((r, i) => {
        const p = defended(r.logits, params, data.seed, base + i * K);
        loss.push(Math.log(p[r.label]));
        conf.push(Math.max(...p));
      });
      let correct = 0;
      test.logits.forEach((z, t) => {
        const p = defended(z, params, data.seed, base + (records.length + t) * K);
        if (p.indexOf(Math.max(...p)) === test.labels[t]) correct++;
      });
      acc += correct / test.logits.length;
      aucLoss += auc(loss, member);
      aucConf += auc(conf, member);
    }
    return { accuracy: acc / data.draws, auc_loss: aucLoss / data.draws, auc_confidence: aucConf / data.draws };
  }
  function recordSummary(record, params) {
    const s = sensitivity(record.logits);
    const variance = params.sigma0_sq * (1 + params.lam * s.r);
    const draws = 200, mean = new Array(K).fill(0), square = new Array(K).fill(0);
    for (let d = 0; d < draws; d++) {
      const p = defended(record.logits, params, data.seed ^ 0x5bd1e995, d * K);
      p.forEach((v, j) => { mean[j] += v / draws; square[j] += (v * v) / draws; });
    }
    const spread = mean.map((m, j) => Math.sqrt(Math.max(square[j] - m * m, 0)));
    return { p: s.p, h: s.h, r: s.r, variance: variance, mean: mean, spread: spread };
  }
  function histogram(params, record) {  // top-class released probability, draw 0, members vs non-members
    const bins = 20, counts = { true: new Array(bins).fill(0), false: new Array(bins).fill(0) };
    let mark = 0;
    data.records.forEach((r, i) => {
      const top = Math.max(...defended(r.logits, params, data.seed, i * K));
      counts[r.member][Math.min(bins - 1, Math.floor(top * bins))]++;
      if (r === record) mark = top;
    });
    const peak = Math.max(1, ...counts.true, ...counts.false);
    let svg = '<svg viewBox="0 0 400 120" width="400" height="120" role="img" aria-label="histogram">';
    for (let b = 0; b < bins; b++) {
      const hm = (100 * counts.true[b]) / peak, hn = (100 * counts.false[b]) / peak;
      svg += `<rect x="${b * 20}" y="${105 - hm}" width="9" height="${hm}" fill="#1f4e79"/>`;
      svg += `<rect x="${b * 20 + 9}" y="${105 - hn}" width="9" height="${hn}" fill="#c0504d"/>`;
    }
    svg += `<line x1="${mark * 400}" x2="${mark * 400}" y1="0" y2="105" stroke="#000" stroke-dasharray="3"/>`;
    svg += '<text x="0" y="118" font-size="9">0</text><text x="385" y="118" font-size="9">1</text></svg>';
    return svg;
  }
  const fmt = (v, digits) => v.toFixed(digits);
  const $ = (id) => document.getElementById(id);
  function params() {
    return { sigma0_sq: +$("ex-sigma").value, lam: +$("ex-lam").value, temperature: +$("ex-temp").value };
  }
  function update() {
    const p = params();
    $("ex-sigma-out").textContent = fmt(p.sigma0_sq, 2);
    $("ex-lam-out").textContent = fmt(p.lam, 2);
    $("ex-temp-out").textContent = fmt(p.temperature, 2);
    const record = data.records[+$("ex-record").value];
    $("ex-record-title").innerHTML = `Record <span class="mono">${record.id}</span> ` +
      `(${record.member ? "member" : "non-member"}, class ${record.label})`;
    const s = recordSummary(record, p);
    $("ex-h").textContent = fmt(s.h, 4);
    $("ex-r").textContent = fmt(s.r, 4);
    $("ex-variance").textContent = fmt(s.variance, 4);
    $("ex-dist").innerHTML = s.p.map((v, j) =>
      `<tr><td>${j}${j === record.label ? " (true)" : ""}</td><td>${fmt(v, 4)}</td>` +
      `<td>${fmt(s.mean[j], 4)} ± ${fmt(s.spread[j], 4)}</td></tr>`).join("");
    $("ex-hist").innerHTML = histogram(p, record);
    const m = setMetrics(p);
    $("ex-accuracy").textContent = fmt(m.accuracy, 4);
    $("ex-auc-loss").textContent = fmt(m.auc_loss, 4);
    $("ex-auc-conf").textContent = fmt(m.auc_confidence, 4);
    const drop = data.undefended_accuracy - m.accuracy;
    $("ex-drop").textContent = fmt(drop, 4);
    if (data.budget !== null) $("ex-budget").textContent = withinBudget(drop, data.budget);
  }
  function withinBudget(drop, budget) {  // mirrors audit_core/report/explorer.py within_budget
    return drop <= budget ? "yes" : `no (over by ${fmt(drop - budget, 4)})`;
  }
  function reset() {
    $("ex-sigma").value = data.params.sigma0_sq;
    $("ex-lam").value = data.params.lam;
    $("ex-temp").value = data.params.temperature;
    update();
  }
  const picker = $("ex-record");
  data.records.forEach((r, i) => {
    const option = document.createElement("option");
    option.value = i;
    option.textContent = `${r.id} · ${r.member ? "member" : "non-member"} · class ${r.label}`;
    picker.appendChild(option);
  });
  for (const id of ["ex-sigma", "ex-lam", "ex-temp", "ex-record"]) $(id).addEventListener("input", update);
  $("ex-reset").addEventListener("click", reset);
  document.getElementById("explorer").classList.add("live");
  reset();
})();

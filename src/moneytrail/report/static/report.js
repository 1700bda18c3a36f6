/* moneytrail report: draws the case networks and the evidence panel.
   All data comes from the JSON block #mt-data; text is inserted with
   textContent only, so nothing from the data is ever parsed as HTML. */
(function () {
  "use strict";
  var ROLE_COLOURS = {
    controller: "#c0392b", collector: "#e67e22", front_business: "#8e44ad",
    buyer: "#d35400", facilitator: "#2980b9", launderer: "#16a085",
    victim: "#27ae60", extortion_victim: "#2ecc71"
  };
  var RISK_BORDER = { critical: "#8e0000", high: "#d35400", medium: "#d4a017" };
  var data = JSON.parse(document.getElementById("mt-data").textContent || "{}");
  var cases = data.cases || {};
  window.mtNetworks = {};

  function money(v, currency) {
    return Number(v || 0).toLocaleString("en-US", { maximumFractionDigits: 2 }) +
      (currency ? " " + currency : "");
  }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function showNode(panel, node, chart) {
    panel.replaceChildren();
    panel.appendChild(el("h5", node.label === node.id ? node.id : node.label + " (" + node.id + ")"));
    var facts = [];
    if (node.role) facts.push("role: " + node.role);
    if (node.risk !== null && node.risk !== undefined) facts.push("risk " + Number(node.risk).toFixed(2));
    if (node.level && node.level !== "none") facts.push(node.level);
    if (!node.member) facts.push("counterparty outside the case");
    panel.appendChild(el("p", facts.join(" · ")));
    var evidence = (chart.evidence || {})[node.id] || [];
    if (!evidence.length) {
      panel.appendChild(el("p", "No evidence about this account.", "hint"));
    }
    evidence.forEach(function (e) {
      var box = el("div", null, "ev");
      var head = el("div");
      head.appendChild(el("code", e.code));
      head.appendChild(el("span", " " + (e.severity || "") + " " +
        (e.score === null || e.score === undefined ? "" : Number(e.score).toFixed(2))));
      box.appendChild(head);
      if (e.title) box.appendChild(el("div", e.title));
      box.appendChild(el("div", e.reason));
      if (e.n_txn_ids) box.appendChild(el("small", e.n_txn_ids + " supporting transaction(s)"));
      panel.appendChild(box);
    });
    var flows = (chart.edges || []).filter(function (x) { return x.from === node.id || x.to === node.id; });
    if (flows.length) {
      panel.appendChild(el("p", "Money flows:", "hint"));
      flows.forEach(function (f) {
        panel.appendChild(el("div", f.from + " → " + f.to + ": " + f.n + " payment(s), " +
          money(f.total, chart.currency)));
      });
    }
  }

  function draw(container) {
    var key = container.getAttribute("data-case");
    var chart = cases[key];
    if (!chart || container.getAttribute("data-rendered-nodes")) return;
    var maxTotal = 1;
    chart.edges.forEach(function (e) { maxTotal = Math.max(maxTotal, e.total || 0); });
    var nodes = chart.nodes.map(function (n) {
      var colour = n.member ? (ROLE_COLOURS[n.role] || "#7f8c8d") : "#bdc3c7";
      var risk = n.risk === null || n.risk === undefined ? 0 : n.risk;
      return {
        id: n.id,
        label: n.label.length > 28 ? n.label.slice(0, 27) + "…" : n.label,
        title: n.id + (n.role ? " · " + n.role : "") + (n.risk !== null && n.risk !== undefined ? " · risk " + risk.toFixed(2) : ""),
        shape: n.kind === "cash" ? "box" : (n.member ? "dot" : "diamond"),
        size: n.member ? 12 + 18 * risk : 9,
        borderWidth: RISK_BORDER[n.level] ? 4 : 1,
        color: { background: colour, border: RISK_BORDER[n.level] || "#555",
                 highlight: { background: colour, border: "#000" } },
        font: { size: 12 }
      };
    });
    var edges = chart.edges.map(function (e, i) {
      return {
        id: "e" + i, from: e.from, to: e.to, arrows: "to",
        width: 1 + 6 * Math.sqrt((e.total || 0) / maxTotal),
        title: e.from + " → " + e.to + ": " + e.n + " payment(s), " + money(e.total, chart.currency) +
          (e.first ? " (" + e.first.replace("T", " ") + " – " + (e.last || "").replace("T", " ") + ")" : ""),
        color: { color: "#7b8a97", highlight: "#1f2d3d" },
        smooth: { type: "curvedCW", roundness: 0.15 }
      };
    });
    var network = new vis.Network(container, {
      nodes: new vis.DataSet(nodes), edges: new vis.DataSet(edges)
    }, {
      physics: { solver: "forceAtlas2Based", stabilization: { iterations: 250 } },
      interaction: { hover: true, tooltipDelay: 120 },
      nodes: { shadow: false }
    });
    network.once("stabilizationIterationsDone", function () {
      network.setOptions({ physics: false });
    });
    var panel = document.querySelector('[data-panel="' + CSS.escape(key) + '"]');
    var byId = {};
    chart.nodes.forEach(function (n) { byId[n.id] = n; });
    network.on("click", function (params) {
      if (params.nodes.length && panel) showNode(panel, byId[params.nodes[0]], chart);
    });
    window.mtNetworks[key] = network;
    container.setAttribute("data-rendered-nodes", String(network.body.data.nodes.length));
  }

  var charts = Array.prototype.slice.call(document.querySelectorAll(".chart[data-case]"));
  if ("IntersectionObserver" in window) {
    // Draw a chart when it scrolls into view: a long report stays quick to open.
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { draw(entry.target); observer.unobserve(entry.target); }
      });
    }, { rootMargin: "300px" });
    charts.forEach(function (c) { observer.observe(c); });
  } else {
    charts.forEach(draw);
  }
  window.mtDrawAll = function () { charts.forEach(draw); };
})();

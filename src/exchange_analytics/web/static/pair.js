/* Pair page: candles with Bollinger Bands, RSI and MACD panels, detections as markers.
   Reads /api/candles and /api/detections (docs/DASHBOARD.md); no inline script (CSP). */
(function () {
  "use strict";
  const root = document.getElementById("chart");
  const statusLine = document.getElementById("chart-status");
  const tooltip = document.getElementById("tooltip");
  const pair = root.dataset.pair;
  const tf = root.dataset.tf;
  const LWC = window.LightweightCharts;
  const base = {
    autoSize: true,
    grid: { vertLines: { color: "#f0f2f5" }, horzLines: { color: "#f0f2f5" } },
    timeScale: { timeVisible: tf !== "1d", secondsVisible: false, borderColor: "#e3e6eb" },
    rightPriceScale: { borderColor: "#e3e6eb", minimumWidth: 70 },
    crosshair: { mode: LWC.CrosshairMode.Normal },
    /* The logo injects an inline <style> the CSP refuses; the page credits TradingView instead. */
    layout: { background: { color: "#ffffff" }, textColor: "#1d2330", fontSize: 11, attributionLogo: false },
  };

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) { throw new Error(body.error || r.status + " " + r.statusText); }
          return body;
        });
      });
  }

  function line(chart, color, width, style) {
    return chart.addLineSeries({
      color: color, lineWidth: width, lineStyle: style || 0,
      priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false,
    });
  }

  /* Same time points in every panel, so their logical ranges (scroll, zoom) line up. */
  function aligned(times, rows, pick) {
    const byTime = new Map(rows.map(function (r) { return [r.time, r]; }));
    return times.map(function (t) {
      const row = byTime.get(t);
      return row === undefined ? { time: t } : Object.assign({ time: t }, pick(row));
    });
  }

  /* The candle holding each detection: the last candle time <= the detection's 5m bar. */
  function bucketOf(times, t) {
    let lo = 0, hi = times.length - 1, found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= t) { found = times[mid]; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function markersFor(times, detections) {
    const groups = new Map();
    detections.forEach(function (d) {
      const at = bucketOf(times, d.time);
      if (at === null) { return; }
      if (!groups.has(at)) { groups.set(at, []); }
      groups.get(at).push(d);
    });
    const markers = [];
    groups.forEach(function (items, at) {
      items.sort(function (a, b) { return (b.decision === "new") - (a.decision === "new") || b.confidence - a.confidence; });
      const lead = items[0];
      const signal = lead.decision === "new";
      const buy = lead.direction === "BUY", sell = lead.direction === "SELL";
      markers.push({
        time: at, id: String(at),
        position: sell ? "aboveBar" : "belowBar",
        shape: buy ? "arrowUp" : (sell ? "arrowDown" : "circle"),
        color: (buy ? (signal ? "#0a8754" : "#8fd1b5") : sell ? (signal ? "#c62828" : "#f0a8a8") : (signal ? "#6a1b9a" : "#c9a7dc")),
        text: items.length > 1 ? String(items.length) : "",
      });
    });
    markers.sort(function (a, b) { return a.time - b.time; });
    return { markers: markers, groups: groups };
  }

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function fmt(v) { return typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(3) : v.toFixed(4)) : esc(v); }

  function describe(d) {
    const out = d.outcome ? d.outcome.result.replace("_", " ") + (d.outcome.bars ? " after " + d.outcome.bars + " bars" : "") : (d.decision === "new" ? "no levels" : "not a signal (" + esc(d.decision || "-") + ")");
    let html = "<h3>" + esc(d.pattern) + " · " + esc(d.direction) + "</h3>" +
      "<div>" + esc(d.bar_time) + " · confidence " + d.confidence.toFixed(2) + " · " + esc(d.priority) + "</div>" +
      "<div>outcome: <b>" + esc(out) + "</b></div>";
    if (d.entry !== null) {
      html += "<div>entry " + fmt(d.entry) + " · TP " + fmt(d.take_profit) + " · SL " + fmt(d.stop_loss) + "</div>";
    }
    Object.keys(d.conditions).forEach(function (name) {
      const c = d.conditions[name];
      html += "<div class='" + (c.met ? "met" : "unmet") + "'>" + esc(name) + ": " + (c.met ? "met" : "not met") + (c.reason ? " (" + esc(c.reason) + ")" : "") + "</div><ul>";
      c.checks.forEach(function (k) {
        const values = k.values ? Object.keys(k.values).map(function (n) { return esc(n) + "=" + fmt(k.values[n]); }).join(", ") : "";
        html += "<li class='" + (k.met ? "met" : "unmet") + "'>" + esc(k.condition) + (values ? " <span>(" + values + ")</span>" : "") + "</li>";
      });
      html += "</ul>";
    });
    return html;
  }

  function oneLine(d) {
    return "<div>" + esc(d.bar_time.slice(11, 16)) + " " + esc(d.pattern) + " " + esc(d.direction) +
      " · " + d.confidence.toFixed(2) + " · " + esc(d.decision || "-") +
      (d.outcome ? " · " + esc(d.outcome.result) : "") + "</div>";
  }

  /* Full details for the bar's leading detection (a notified signal first), one line for the rest. */
  function showTooltip(items, point) {
    const rest = items.slice(1, 7);
    tooltip.innerHTML = describe(items[0]) +
      (rest.length ? "<div class='sep'></div><div>also on this bar:</div>" + rest.map(oneLine).join("") : "") +
      (items.length > 7 ? "<div>… and " + (items.length - 7) + " more</div>" : "");
    tooltip.hidden = false;
    const width = root.clientWidth;
    const left = point.x + 16 + tooltip.offsetWidth > width ? point.x - tooltip.offsetWidth - 16 : point.x + 16;
    tooltip.style.left = Math.max(0, left) + "px";
    tooltip.style.top = Math.max(0, point.y - 20) + "px";
  }

  function draw(data, detections) {
    const times = data.candles.map(function (c) { return c.time; });
    const price = LWC.createChart(document.getElementById("price-pane"), base);
    const rsiChart = LWC.createChart(document.getElementById("rsi-pane"), base);
    const macdChart = LWC.createChart(document.getElementById("macd-pane"), base);
    const candles = price.addCandlestickSeries({ upColor: "#26a69a", downColor: "#ef5350", borderVisible: false, wickUpColor: "#26a69a", wickDownColor: "#ef5350" });
    candles.setData(data.candles.map(function (c) { return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close }; }));
    line(price, "rgba(41, 98, 255, .55)", 1).setData(aligned(times, data.bb, function (r) { return { value: r.upper }; }));
    line(price, "rgba(41, 98, 255, .55)", 1, 2).setData(aligned(times, data.bb, function (r) { return { value: r.middle }; }));
    line(price, "rgba(41, 98, 255, .55)", 1).setData(aligned(times, data.bb, function (r) { return { value: r.lower }; }));
    const rsi = line(rsiChart, "#7e57c2", 1.5);
    rsi.setData(aligned(times, data.rsi, function (r) { return { value: r.value }; }));
    [70, 30].forEach(function (level) { rsi.createPriceLine({ price: level, color: "#b0b7c3", lineWidth: 1, lineStyle: 2, axisLabelVisible: false }); });
    const hist = macdChart.addHistogramSeries({ priceLineVisible: false, lastValueVisible: false });
    hist.setData(aligned(times, data.macd, function (r) { return { value: r.histogram, color: r.histogram >= 0 ? "rgba(38,166,154,.6)" : "rgba(239,83,80,.6)" }; }));
    line(macdChart, "#2962ff", 1.5).setData(aligned(times, data.macd, function (r) { return { value: r.macd }; }));
    line(macdChart, "#ff6d00", 1.5).setData(aligned(times, data.macd, function (r) { return { value: r.signal }; }));

    const marked = markersFor(times, detections);
    candles.setMarkers(marked.markers);

    const charts = [price, rsiChart, macdChart];
    let syncing = false;
    charts.forEach(function (source) {
      source.timeScale().subscribeVisibleLogicalRangeChange(function (range) {
        if (syncing || range === null) { return; }
        syncing = true;
        charts.forEach(function (target) { if (target !== source) { target.timeScale().setVisibleLogicalRange(range); } });
        syncing = false;
      });
    });
    price.timeScale().fitContent();

    price.subscribeCrosshairMove(function (param) {
      const key = param.hoveredObjectId !== undefined ? Number(param.hoveredObjectId) : param.time;
      const items = key !== undefined ? marked.groups.get(key) : undefined;
      if (!param.point || items === undefined) { tooltip.hidden = true; return; }
      showTooltip(items, param.point);
    });

    window.eaDashboard = { chart: price, candles: candles, markers: marked.markers, times: times, rsi: rsi };
    statusLine.textContent = data.candles.length + " bars" + (data.truncated ? " (newest of the range)" : "") +
      " · " + detections.length + " detections · " + marked.markers.length + " marked bars";
    root.dataset.ready = "1";
  }

  const q = "pair=" + encodeURIComponent(pair);
  get("/api/candles?" + q + "&tf=" + encodeURIComponent(tf)).then(function (data) {
    if (data.candles.length === 0) {
      statusLine.textContent = "no " + tf + " bars stored for " + pair + " yet";
      root.dataset.ready = "1";
      return null;
    }
    const from = data.candles[0].time;
    const to = data.candles[data.candles.length - 1].time + 86400;
    return get("/api/detections?" + q + "&from=" + from + "&to=" + to + "&limit=500").then(function (found) {
      draw(data, found.detections);
    });
  }).catch(function (err) {
    statusLine.textContent = "could not load the chart: " + err.message;
    statusLine.className = "bad";
    root.dataset.ready = "error";
  });
})();

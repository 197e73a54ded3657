// livechart 页面脚本：每个图表按其任务的实时间隔用 setInterval 刷新。
// 新图先用 new Image() 预加载，加载完成后替换旧的 <img>（不闪烁）；
// 标签页隐藏时停止所有轮询，重新可见时立即刷新。
(() => {
  "use strict";

  const STATUS_POLL_MS = 2000; // 轮询 /api/charts 的周期：跟上别人改的间隔与暂停
  const CLOCK_MS = 1000; // “N 秒前”的更新周期
  const STUCK_MS = 15000; // 一张图超过这么久还没加载完，就放弃它重新请求
  const statusUrl = document.body.dataset.statusUrl;
  const charts = new Map();
  let statusTimer = null;
  let clockTimer = null;
  let clockOffsetMs = 0; // 服务器时间 − 本机时间

  for (const el of document.querySelectorAll(".chart")) {
    const interval = parseFloat(el.dataset.interval);
    charts.set(el.dataset.name, {
      el,
      img: el.querySelector("img.plot"),
      src: el.dataset.src,
      intervalMs: Number.isFinite(interval) ? interval * 1000 : null,
      paused: el.dataset.paused === "true",
      version: null,
      renderedAt: null,
      timer: null,
      loading: false,
      loadingSince: 0,
      pending: null,
    });
  }

  function setText(chart, selector, text) {
    chart.el.querySelector(selector).textContent = text;
  }

  // 预加载新图，加载成功后替换；失败则保留上一张并标记，下个周期自动重试
  function refresh(chart) {
    // 上一张还在加载就不叠加请求；但卡住太久的请求要放弃，否则这个图表再也不会刷新
    if (chart.loading && Date.now() - chart.loadingSince < STUCK_MS) return;
    if (chart.pending) chart.pending.onload = chart.pending.onerror = null;
    chart.loading = true;
    chart.loadingSince = Date.now();
    const next = new Image();
    chart.pending = next;
    next.className = chart.img.className;
    next.alt = chart.img.alt;
    next.onload = () => {
      chart.pending = null;
      chart.img.replaceWith(next);
      chart.img = next;
      chart.loading = false;
      chart.el.classList.remove("failed");
      setText(chart, ".problem", "");
    };
    next.onerror = () => {
      chart.pending = null;
      chart.loading = false;
      chart.el.classList.add("failed");
      setText(chart, ".problem", "图片加载失败，保留上一张，稍后重试");
    };
    next.src = `${chart.src}?t=${Date.now()}`;
  }

  function schedule(chart) {
    clearInterval(chart.timer);
    chart.timer = null;
    if (document.hidden || chart.paused || !chart.intervalMs) return;
    chart.timer = setInterval(() => refresh(chart), chart.intervalMs);
  }

  function showPeriod(chart) {
    chart.el.classList.toggle("paused", chart.paused);
    if (chart.paused) setText(chart, ".period", "已暂停");
    else if (chart.intervalMs) setText(chart, ".period", `每 ${chart.intervalMs / 1000} 秒刷新`);
    else setText(chart, ".period", "没有重绘任务");
  }

  function showClock() {
    const now = Date.now() + clockOffsetMs;
    for (const chart of charts.values()) {
      if (chart.renderedAt === null) {
        setText(chart, ".updated", "暂无图片");
        continue;
      }
      const ago = Math.max(0, Math.round((now - chart.renderedAt) / 1000));
      const at = new Date(chart.renderedAt).toLocaleTimeString("zh-CN", { hour12: false });
      setText(chart, ".updated", `更新于 ${at}（${ago} 秒前）`);
    }
  }

  // 从 /api/charts 读取每个任务的实时状态：间隔或暂停状态变了就重新安排刷新
  async function pollStatus() {
    let body;
    try {
      const response = await fetch(statusUrl, { cache: "no-store", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      body = await response.json();
    } catch (error) {
      for (const chart of charts.values()) setText(chart, ".problem", "无法获取状态，稍后重试");
      return;
    }
    clockOffsetMs = Date.parse(body.now) - Date.now();
    for (const status of body.charts) {
      const chart = charts.get(status.name);
      if (!chart) continue;
      const intervalMs = status.interval ? status.interval * 1000 : null;
      const changed = intervalMs !== chart.intervalMs || status.paused !== chart.paused;
      // 暂停时也可能被“立即运行”重绘：版本变了就取一次新图
      if (chart.version !== null && status.version !== chart.version && chart.paused) refresh(chart);
      chart.intervalMs = intervalMs;
      chart.paused = status.paused;
      chart.version = status.version;
      chart.renderedAt = status.rendered_at ? Date.parse(status.rendered_at) : null;
      if (!chart.el.classList.contains("failed")) setText(chart, ".problem", "");
      showPeriod(chart);
      if (changed) schedule(chart);
    }
    showClock();
  }

  function start() {
    stop(); // 不会重复安排定时器
    for (const chart of charts.values()) {
      showPeriod(chart);
      schedule(chart);
    }
    pollStatus();
    statusTimer = setInterval(pollStatus, STATUS_POLL_MS);
    clockTimer = setInterval(showClock, CLOCK_MS);
  }

  function stop() {
    for (const chart of charts.values()) {
      clearInterval(chart.timer);
      chart.timer = null;
    }
    clearInterval(statusTimer);
    clearInterval(clockTimer);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      stop();
      return;
    }
    // 回到前台：立即刷新每张图，再恢复轮询
    for (const chart of charts.values()) refresh(chart);
    start();
  });

  if (!document.hidden) start();
})();

// livechart 页面脚本：每个图表按其任务的实时间隔用 setInterval 刷新。
// 新图先用 new Image() 预加载，加载完成后替换旧的 <img>（不闪烁）；
// 标签页隐藏时停止所有轮询，重新可见时立即刷新。
// 每个图表有状态徽章（实时 / 已暂停 / 陈旧 / 错误）和控制按钮，按钮调用 /scheduler API（同源 JSON）。
(() => {
  "use strict";

  const STATUS_POLL_MS = 2000; // 轮询 /api/charts 的周期：跟上别人改的间隔与暂停
  const CLOCK_MS = 1000; // “N 秒前”的更新周期
  const STUCK_MS = 15000; // 一张图超过这么久还没加载完，就放弃它重新请求
  const statusUrl = document.body.dataset.statusUrl;
  const schedulerUrl = document.body.dataset.schedulerUrl;
  const charts = new Map();
  const template = document.getElementById("chart-template");
  let statusTimer = null;
  let clockTimer = null;
  let clockOffsetMs = 0; // 服务器时间 − 本机时间
  let lastPollAt = 0; // 最近一次读 /api/charts 的时刻

  // 一个图表区块 → 图表的状态对象（页面上原有的，和配置文件里新增、由模板复制出来的）
  function adopt(el) {
    const interval = parseFloat(el.dataset.interval);
    const chart = {
      el,
      img: el.querySelector("img.plot"),
      src: el.dataset.src,
      job: el.dataset.job,
      stale: false,
      error: null,
      reason: null,
      warnings: [],
      intervalMs: Number.isFinite(interval) ? interval * 1000 : null,
      paused: el.dataset.paused === "true",
      version: null,
      renderedAt: null,
      timer: null,
      loading: false,
      loadingSince: 0,
      pending: null,
    };
    charts.set(el.dataset.name, chart);
    bindControls(chart);
    return chart;
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
      // 可能是配置文件刚删掉了这个图表：马上读一次状态，而不是等下一次轮询（最多每秒一次）
      if (Date.now() - lastPollAt > 1000) pollStatus();
      chart.el.classList.add("failed");
      setText(chart, ".problem", "图片加载失败，保留上一张，稍后重试");
    };
    next.src = `${chart.src}?t=${Date.now()}`;
  }

  const MAX_DELAY_MS = 2 ** 31 - 1;
  // 状态里 reason.code 对应的徽章文字
  const REASONS = { no_job: "没有任务", job_paused: "已暂停", scheduler_paused: "调度器已暂停", scheduler_stopped: "调度器未运行" };

  function schedule(chart) {
    clearInterval(chart.timer);
    chart.timer = null;
    if (document.hidden || chart.paused || !chart.intervalMs) return;
    // 浏览器把超过 2^31−1 毫秒的延迟当作 0：不夹住的话很长的间隔会变成死循环（docs/pitfalls.md 第 23 条）
    chart.timer = setInterval(() => refresh(chart), Math.min(chart.intervalMs, MAX_DELAY_MS));
  }

  function showPeriod(chart) {
    chart.el.classList.toggle("paused", chart.paused);
    if (chart.paused) setText(chart, ".period", chart.reason ? REASONS[chart.reason.code] || "已暂停" : "已暂停");
    else if (chart.intervalMs) setText(chart, ".period", `每 ${chart.intervalMs / 1000} 秒刷新`);
    else setText(chart, ".period", "没有重绘任务");
    showBadge(chart);
    showControls(chart);
  }

  // 徽章：错误（悬停看消息）优先，其次已暂停、陈旧，否则实时
  function showBadge(chart) {
    const badge = chart.el.querySelector(".badge");
    let state = "live";
    let text = "实时";
    let title = "";
    if (chart.error) {
      state = "error";
      text = "错误";
      title = `${chart.error.message}（连续失败 ${chart.error.consecutive_failures} 次）`;
    } else if (chart.paused) {
      // 不在按计划重绘：徽章说明原因（没有任务、任务暂停、调度器暂停或未运行），悬停看完整的说明
      state = "paused";
      text = chart.reason ? REASONS[chart.reason.code] || "已暂停" : "已暂停";
      title = chart.reason ? chart.reason.message : "";
    } else if (chart.warnings.length) {
      // 数据有问题（来自未来的行被丢弃、超出范围的值没有画）：图照常更新，悬停看说明
      state = "warning";
      text = "数据异常";
      title = chart.warnings.map((w) => w.message).join("\n");
    } else if (chart.stale) {
      state = "stale";
      text = "陈旧";
      title = "超过 3 个间隔没有新图";
    }
    badge.dataset.state = state;
    badge.textContent = text;
    badge.title = title;
    // 错误的类型与消息直接显示在图片上方（不用悬停）；图片是上一张好图
    const error = chart.el.querySelector(".error-text");
    if (error) {
      error.hidden = !chart.error;
      error.textContent = chart.error ? `重绘失败，显示的是上一张图：${chart.error.message}` : "";
    }
  }

  function showControls(chart) {
    const controls = chart.el.querySelector(".controls");
    if (!controls) return;
    controls.querySelector('[data-action="pause"]').disabled = chart.paused || !chart.intervalMs;
    controls.querySelector('[data-action="resume"]').disabled = !chart.paused || !chart.intervalMs;
    const select = controls.querySelector("select.interval");
    if (chart.intervalMs && document.activeElement !== select) {
      const seconds = String(chart.intervalMs / 1000);
      if (![...select.options].some((o) => o.value === seconds)) select.add(new Option(`${seconds} 秒`, seconds));
      select.value = seconds;
    }
  }

  // 调用 /scheduler API：同源、JSON；401/403 显示清楚的消息而不是吞掉
  async function control(chart, path, method, body) {
    const notice = chart.el.querySelector(".notice");
    notice.textContent = "";
    let response;
    try {
      response = await fetch(`${schedulerUrl}${path}`, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body || {}),
      });
    } catch (error) {
      notice.textContent = "请求失败：无法连接服务器";
      return;
    }
    if (response.ok) {
      await pollStatus();
      return;
    }
    let message = `HTTP ${response.status}`;
    try {
      const payload = await response.json();
      if (payload.message) message = payload.message;
    } catch (error) {
      // 不是 JSON：保留状态码
    }
    if (response.status === 401) notice.textContent = `需要 API 凭据（HTTP Basic）：${message}`;
    else if (response.status === 403) notice.textContent = `没有权限：${message}`;
    else notice.textContent = `操作失败：${message}`;
  }

  function bindControls(chart) {
    const controls = chart.el.querySelector(".controls");
    if (!controls) return;
    const job = encodeURIComponent(chart.job);
    controls.querySelector('[data-action="pause"]').addEventListener("click", () => control(chart, `/jobs/${job}/pause`, "POST"));
    controls.querySelector('[data-action="resume"]').addEventListener("click", () => control(chart, `/jobs/${job}/resume`, "POST"));
    controls.querySelector('[data-action="run"]').addEventListener("click", async () => {
      await control(chart, `/jobs/${job}/run`, "POST");
      refresh(chart);
    });
    controls.querySelector("select.interval").addEventListener("change", (event) => {
      const seconds = Number(event.target.value);
      control(chart, `/jobs/${job}`, "PATCH", { trigger: "interval", seconds });
    });
  }

  // 配置文件重新载入之后：按 /api/charts 加上新图表、去掉删掉的图表、按配置的顺序排列、更新标题
  function followCharts(statuses) {
    const main = document.querySelector("main.charts");
    const names = new Set(statuses.map((status) => status.name));
    for (const [name, chart] of charts) {
      if (names.has(name)) continue;
      clearInterval(chart.timer);
      if (chart.pending) chart.pending.onload = chart.pending.onerror = null;
      chart.el.remove();
      charts.delete(name);
    }
    for (const status of statuses) {
      let chart = charts.get(status.name);
      if (!chart) {
        const el = template.content.firstElementChild.cloneNode(true);
        el.id = `chart-${status.name}`;
        el.dataset.name = status.name;
        el.dataset.src = status.image_url;
        el.dataset.job = status.job_id;
        el.dataset.interval = "";
        el.dataset.paused = "false";
        chart = adopt(el);
        chart.intervalMs = -1; // 与任何实时间隔都不同：下面的 pollStatus 会安排刷新
        refresh(chart);
      }
      const title = chart.el.querySelector("h2");
      if (title.textContent !== status.title) {
        title.textContent = status.title;
        chart.img.alt = status.title;
      }
    }
    // 顺序与配置不同时才重排（移动元素会重排版面）
    const order = statuses.map((status) => charts.get(status.name).el);
    if (order.some((el, index) => main.children[index] !== el)) for (const el of order) main.append(el);
  }

  function showConfig(body) {
    const error = document.getElementById("config-error");
    const restart = document.getElementById("config-restart");
    error.hidden = !body.config_error;
    error.querySelector(".message").textContent = body.config_error ? body.config_error.message : "";
    restart.hidden = !body.config_restart_needed;
    restart.querySelector(".settings").textContent = body.config_restart_needed ? body.config_restart_needed.settings.join("、") : "";
  }

  for (const el of document.querySelectorAll("main.charts .chart")) adopt(el);

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
    lastPollAt = Date.now();
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
    showConfig(body);
    followCharts(body.charts);
    for (const status of body.charts) {
      const chart = charts.get(status.name);
      if (!chart) continue;
      const intervalMs = status.interval ? status.interval * 1000 : null;
      const changed = intervalMs !== chart.intervalMs || status.paused !== chart.paused;
      // 暂停时也可能被“立即运行”重绘；刚加上的图表、上一次没取到图的图表：版本变了就立即取一次新图，不等下一个间隔
      const waiting = chart.paused || chart.version === 0 || chart.el.classList.contains("failed");
      if (chart.version !== null && status.version !== chart.version && waiting) refresh(chart);
      chart.intervalMs = intervalMs;
      chart.paused = status.paused;
      chart.reason = status.reason;
      chart.warnings = status.data_warnings || [];
      chart.version = status.version;
      chart.renderedAt = status.rendered_at ? Date.parse(status.rendered_at) : null;
      chart.stale = status.stale;
      chart.error = status.last_error && status.last_error.consecutive_failures > 0 ? status.last_error : null;
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

// Tierline dashboard: live calls, the human queue, calls and customers over the CRM API.
// No build step. Every text from the server is set with textContent (never parsed as HTML);
// the only markup taken from the server is the call plots' SVG, which the server escapes.
'use strict';

const LABELS = {
  zh: {
    live: '实时通话', queue: '人工队列', calls: '通话记录', customers: '客户', token: 'API 令牌',
    sign_in: '登录', lang: 'English', no_live: '当前没有进行中的通话', no_queue: '没有等待人工的来电',
    no_calls: '没有通话', no_customers: '没有客户', turns: '轮', last_utterance: '最后一句',
    ended: '已结束', live_now: '进行中', transfer: '转人工', continue: '机器人继续', route: '路由',
    tier: '分层', reasons: '理由', transcript: '对话记录', time: '时间', text: '来电者', intent: '意图',
    emotion: '情绪', dialect: '方言', decisions: '路由决策', handoff: '交接摘要', take: '接听', wait: '等待自',
    customer: '客户', phone: '电话', started: '开始', duration: '时长', status: '状态',
    outcome: '结果', record_outcome: '记录结果', correct_tier: '更正分层', note: '备注', save: '保存',
    search: '搜索客户（姓名、编号、公司、标签）', features: '行为特征', rfm: 'RFM', tags: '标签',
    stage: '生命周期', tier_history: '分层历史', source: '来源', connected: '已连接',
    offline: '连接中断，重试中…', bad_token: '令牌无效', forbidden: '令牌权限不足',
    not_found: '未找到', saved: '已保存', intents: '意图', entities: '信息', queue_name: '队列',
    last_words: '最近说的话', sign_out: '退出', arousal: '唤醒度', plots: '分层与情绪',
    high: '高价值', medium: '中等', low: '低', churn_risk: '流失风险',
    neutral: '平静', angry: '生气', hesitant: '犹豫', positive: '积极',
    converted: '成交', lost: '流失', churned: '已流失',
    care: '客户关怀', senior_sales: '高级销售', retention: '挽留', general: '人工客服',
  },
  en: {
    live: 'Live calls', queue: 'Human queue', calls: 'Calls', customers: 'Customers',
    token: 'API token', sign_in: 'Sign in', lang: '中文', no_live: 'No call in progress',
    no_queue: 'Nobody is waiting for a person', no_calls: 'No calls', no_customers: 'No customers',
    turns: 'turns', last_utterance: 'Last utterance', ended: 'ended', live_now: 'live',
    transfer: 'transfer', continue: 'bot keeps the call', route: 'Route', tier: 'Tier',
    reasons: 'Reasons', transcript: 'Transcript', time: 'Time', text: 'Caller', intent: 'Intent',
    emotion: 'Emotion', dialect: 'Dialect', decisions: 'Route decisions', handoff: 'Handoff summary', take: 'Take',
    wait: 'Waiting since', customer: 'Customer', phone: 'Phone', started: 'Started',
    duration: 'Duration', status: 'Status', outcome: 'Outcome', record_outcome: 'Record outcome',
    correct_tier: 'Correct tier', note: 'Note', save: 'Save',
    search: 'Search customers (name, id, company, tag)', features: 'Behaviour features',
    rfm: 'RFM', tags: 'Tags', stage: 'Lifecycle stage', tier_history: 'Tier history',
    source: 'Source', connected: 'connected', offline: 'connection lost, retrying…',
    bad_token: 'Invalid token', forbidden: 'The token lacks the scope', not_found: 'Not found',
    saved: 'Saved', intents: 'Intents', entities: 'Facts', queue_name: 'Queue',
    last_words: 'Last words', sign_out: 'Sign out', arousal: 'Arousal', plots: 'Tier and emotion',
    high: 'high', medium: 'medium', low: 'low', churn_risk: 'churn risk',
    neutral: 'neutral', angry: 'angry', hesitant: 'hesitant', positive: 'positive',
    converted: 'converted', lost: 'lost', churned: 'churned',
    care: 'care', senior_sales: 'senior sales', retention: 'retention', general: 'general',
  },
};
const TIERS = ['high', 'medium', 'low', 'churn_risk'];
const EMOTION_COLOURS = {neutral: '#8a8f98', angry: '#c0392b', hesitant: '#d68910',
                         positive: '#1e8449'};
const ENDED_KEEP_MS = 120000;

let lang = localStorage.getItem('tierline-lang') ||
           ((navigator.language || 'zh').startsWith('zh') ? 'zh' : 'en');
const live = new Map();   // call id -> live call state
let cursor = 0;
let streaming = false;

function t(key) { return (LABELS[lang] && LABELS[lang][key]) || key; }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(tier) {
  return el('span', {class: `badge ${TIERS.includes(tier) ? tier : ''}`, 'data-tier': tier || ''},
            tier ? t(tier) : '–');
}

function token() { return sessionStorage.getItem('tierline-token'); }

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const headers = Object.assign({'Authorization': `Bearer ${token()}`}, options.headers || {});
  if (options.body) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, Object.assign({}, options, {headers}));
  if (r.status === 401) { showLogin(t('bad_token')); throw new ApiError(401, t('bad_token')); }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const detail = body && body.detail;
    throw new ApiError(r.status, typeof detail === 'string' ? detail :
                       r.status === 403 ? t('forbidden') : `HTTP ${r.status}`);
  }
  return body;
}

function setStatus(key) {
  const s = document.getElementById('status');
  s.textContent = t(key);
  s.dataset.state = key;
}

function showLogin(message) {
  document.getElementById('main').replaceChildren();
  const form = document.getElementById('login');
  form.hidden = false;
  document.getElementById('login-error').textContent = message || '';
}

function fmtTime(seconds) {
  if (typeof seconds !== 'number') return '';
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  return `${m}:${String(s).padStart(2, '0')}`;
}

function fmtDate(iso) { return iso ? iso.replace('T', ' ').slice(0, 19) : ''; }

function sparkline(points) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 300 36');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', t('arousal'));
  const values = points.filter(p => typeof p.arousal === 'number');
  if (!values.length) return svg;
  const step = values.length > 1 ? 290 / (values.length - 1) : 0;
  const xy = values.map((p, i) => [5 + i * step, 32 - 28 * Math.max(0, Math.min(1, p.arousal))]);
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#627d98');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  values.forEach((p, i) => {
    const dot = document.createElementNS(NS, 'circle');
    dot.setAttribute('cx', xy[i][0]);
    dot.setAttribute('cy', xy[i][1]);
    dot.setAttribute('r', '3');
    dot.setAttribute('fill', EMOTION_COLOURS[p.emotion] || '#555');
    svg.append(dot);
  });
  return svg;
}

function routeText(route) {
  if (!route || route.action !== 'transfer') return t('continue');
  return `${t('transfer')} → ${t(route.queue)}`;
}

// ------------------------------------------------------------------ live calls

function liveCard(c) {
  return el('div', {class: 'card', 'data-call': c.id},
    el('div', {class: 'top'},
      el('a', {href: `#/call/${encodeURIComponent(c.id)}`, class: 'call-id'}, c.id),
      badge(c.tier)),
    el('div', {class: 'muted'},
      [c.customer_name || c.customer_id || '', c.phone || '', `${c.turns || 0} ${t('turns')}`,
       c.ended ? t('ended') : t('live_now')].filter(Boolean).join(' · ')),
    el('p', {class: 'utterance', title: t('last_utterance')}, c.last_utterance || ''),
    sparkline(c.arousal || []),
    el('div', {class: `route ${c.route && c.route.action === 'transfer' ? 'transfer' : ''}`},
       routeText(c.route)));
}

function renderLive() {
  const main = document.getElementById('main');
  const now = Date.now();
  for (const [id, c] of live) if (c.ended && now - c.ended > ENDED_KEEP_MS) live.delete(id);
  const calls = [...live.values()];
  main.replaceChildren(el('h1', {}, t('live')),
    calls.length ? el('div', {class: 'cards'}, calls.map(liveCard))
                 : el('p', {class: 'empty'}, t('no_live')));
}

async function loadLive() {
  const data = await api('/api/live');
  cursor = Math.max(cursor, data.cursor);
  for (const c of data.calls) {
    const old = live.get(c.id);
    live.set(c.id, Object.assign({}, c, old && old.ended ? {ended: old.ended} : {}));
  }
}

function onEvent(kind, event) {
  cursor = Math.max(cursor, event.id);
  const id = event.call_id;
  const c = id && live.get(id);
  if (kind === 'turn' && c) {
    const d = event.detail || {};
    c.tier = d.tier;
    c.scores = d.scores;
    c.turns = Math.max(c.turns || 0, (event.turn || 0) + 1);
    c.last_utterance = event.text;
    c.emotion = d.emotion;
    c.arousal = (c.arousal || []).concat([{turn: event.turn, arousal: d.arousal,
                                           emotion: d.emotion}]).slice(-30);
  } else if (kind === 'transfer' && c) {
    c.route = (event.detail || {}).route;
  } else if (kind === 'call_ended' && c) {
    c.ended = Date.now();
    c.route = (event.detail || {}).route || c.route;
    c.tier = (event.detail || {}).final_tier || c.tier;
  } else if (kind === 'call_started' || (kind === 'turn' && !c)) {
    loadLive().then(refreshLive).catch(() => {});
  }
  refreshLive();
  if (['transfer', 'queue_taken', 'call_ended'].includes(kind) && route()[0] === 'queue') {
    render();
  }
}

function refreshLive() { if (route()[0] === 'live') renderLive(); }

async function stream() {
  if (streaming) return;
  streaming = true;
  while (token()) {
    try {
      const r = await fetch(`/api/live/stream?after=${cursor}`,
                            {headers: {'Authorization': `Bearer ${token()}`}});
      if (r.status === 401) { showLogin(t('bad_token')); break; }
      if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
      setStatus('connected');
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let kind = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) kind = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) onEvent(kind, JSON.parse(data));
        }
      }
    } catch (e) {
      setStatus('offline');
    }
    await new Promise(ok => setTimeout(ok, 2000));
  }
  streaming = false;
}

// ------------------------------------------------------------------ queue

async function renderQueue() {
  const data = await api('/api/queue');
  const rows = data.items.map(c => {
    const h = c.handoff || {};
    return el('tr', {'data-call': c.id},
      el('td', {}, fmtDate(c.started_at)),
      el('td', {}, el('a', {href: `#/call/${encodeURIComponent(c.id)}`}, c.id),
         el('div', {class: 'muted'}, [c.customer_name, c.phone].filter(Boolean).join(' · '))),
      el('td', {}, t(h.queue || c.route.queue)),
      el('td', {}, badge(h.tier || c.final_tier)),
      el('td', {}, h.reason || c.route.reason || '',
         el('div', {class: 'muted'}, (h.reasons || []).join('；'))),
      el('td', {}, (h.intents || []).join(', '),
         el('div', {class: 'muted'}, JSON.stringify(h.entities || {}))),
      el('td', {}, (h.last_utterances || []).map(u => el('div', {}, u))),
      el('td', {}, el('button', {type: 'button', on: {click: async () => {
        try { await api(`/api/queue/${encodeURIComponent(c.id)}/take`, {method: 'POST'}); render(); }
        catch (e) { alert(e.message); }
      }}}, t('take'))));
  });
  document.getElementById('main').replaceChildren(el('h1', {}, t('queue')),
    rows.length ? el('table', {class: 'queue'},
      el('thead', {}, el('tr', {}, ['wait', 'calls', 'queue_name', 'tier', 'reasons', 'intents',
                                    'last_words', ''].map(k => el('th', {}, k ? t(k) : '')))),
      el('tbody', {}, rows)) : el('p', {class: 'empty'}, t('no_queue')));
}

// ------------------------------------------------------------------ calls

async function renderCalls() {
  const data = await api('/api/calls?limit=100');
  const rows = data.items.map(c => el('tr', {},
    el('td', {}, el('a', {href: `#/call/${encodeURIComponent(c.id)}`}, c.id)),
    el('td', {}, fmtDate(c.started_at)),
    el('td', {}, c.customer_id ? el('a', {href: `#/customer/${encodeURIComponent(c.customer_id)}`},
                                    c.customer_name || c.customer_id) : ''),
    el('td', {}, c.phone || ''),
    el('td', {}, badge(c.final_tier)),
    el('td', {class: c.route.action === 'transfer' ? 'route transfer' : 'route'}, routeText(c.route)),
    el('td', {}, c.status), el('td', {}, c.outcome ? t(c.outcome) : '')));
  document.getElementById('main').replaceChildren(el('h1', {}, t('calls')),
    rows.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['calls', 'started', 'customer', 'phone', 'tier', 'route',
                                    'status', 'outcome'].map(k => el('th', {}, t(k))))),
      el('tbody', {}, rows)) : el('p', {class: 'empty'}, t('no_calls')));
}

function feedbackForms(c) {
  const message = el('span', {class: 'muted'});
  const outcome = el('select', {name: 'outcome'},
    ['converted', 'lost', 'churned'].map(o => el('option', {value: o}, t(o))));
  const tier = el('select', {name: 'tier'}, TIERS.map(x => el('option', {value: x}, t(x))));
  const note = el('input', {name: 'note', maxlength: '1000', placeholder: t('note')});
  const send = (path, body) => async ev => {
    ev.preventDefault();
    try { await api(path, {method: 'POST', body: JSON.stringify(body())}); message.textContent = t('saved'); }
    catch (e) { message.textContent = e.message; }
  };
  return el('div', {},
    el('form', {class: 'inline', on: {submit: send('/api/feedback/outcome',
      () => ({call_id: c.id, outcome: outcome.value}))}},
      el('label', {}, t('record_outcome')), outcome, el('button', {type: 'submit'}, t('save'))),
    el('form', {class: 'inline', on: {submit: send('/api/feedback/tier',
      () => ({call_id: c.id, tier: tier.value, note: note.value}))}},
      el('label', {}, t('correct_tier')), tier, note, el('button', {type: 'submit'}, t('save'))),
    message);
}

function dialectText(turns) {
  // the caller's dialect as identified after the last turn, with the identifier's confidence
  const last = turns.length ? turns[turns.length - 1] : null;
  if (!last || !last.dialect) return '–';
  const conf = last.dialect_confidence == null ? '' : ` ${Number(last.dialect_confidence).toFixed(2)}`;
  return `${last.dialect}${conf}`;
}

async function renderCall(id) {
  const [c, plots] = await Promise.all([api(`/api/calls/${encodeURIComponent(id)}`),
                                        api(`/api/calls/${encodeURIComponent(id)}/plots`)]);
  const transferAt = c.route.action === 'transfer' ? c.route.at_turn : null;
  const plotBox = el('div', {class: 'plots'});
  plotBox.innerHTML = plots.tier + plots.arousal;  // server-escaped SVG (report_plots)
  const turns = c.record.turns.map(x => el('tr', {class: transferAt !== null && x.index > transferAt ? 'after' : ''},
    el('td', {}, `${fmtTime(x.start_s)}–${fmtTime(x.end_s)}`),
    el('td', {class: 'text'}, x.text),
    el('td', {}, `${x.intent.label} ${x.intent.score.toFixed(2)}`),
    el('td', {}, `${t(x.emotion.label)} ${Number(x.emotion.arousal).toFixed(2)}`),
    el('td', {}, badge(x.tier.label)),
    el('td', {class: 'muted'}, (x.tier.reasons || []).join('；'))));
  const decisions = c.decisions.map(d => el('tr', {},
    el('td', {}, d.turn === null ? '' : d.turn + 1),
    el('td', {class: d.action === 'transfer' ? 'route transfer' : 'route'},
       d.action === 'transfer' ? `${t('transfer')} → ${t(d.queue)}` : t('continue')),
    el('td', {}, d.reason), el('td', {}, d.in_force ? '✔' : '')));
  const h = c.handoff;
  document.getElementById('main').replaceChildren(
    el('h1', {}, c.id, ' ', badge(c.final_tier)),
    el('dl', {class: 'kv'},
      el('dt', {}, t('customer')), el('dd', {}, c.customer_id ? el('a', {href: `#/customer/${encodeURIComponent(c.customer_id)}`}, c.customer_name || c.customer_id) : '–'),
      el('dt', {}, t('phone')), el('dd', {}, c.phone || '–'),
      el('dt', {}, t('started')), el('dd', {}, fmtDate(c.started_at)),
      el('dt', {}, t('status')), el('dd', {}, c.status + (c.error ? ` (${c.error})` : '')),
      el('dt', {}, t('route')), el('dd', {class: c.route.action === 'transfer' ? 'route transfer' : 'route'},
                                   `${routeText(c.route)} — ${c.route.reason || ''}`),
      el('dt', {}, t('outcome')), el('dd', {}, c.outcome ? t(c.outcome) : '–'),
      el('dt', {}, t('dialect')), el('dd', {}, dialectText(c.record.turns))),
    el('h2', {}, t('plots')), plotBox,
    el('h2', {}, t('transcript')),
    el('table', {class: 'transcript'},
      el('thead', {}, el('tr', {}, ['time', 'text', 'intent', 'emotion', 'tier', 'reasons'].map(k => el('th', {}, t(k))))),
      el('tbody', {}, turns)),
    h ? el('div', {}, el('h2', {}, t('handoff')),
      el('dl', {class: 'kv'},
        el('dt', {}, t('queue_name')), el('dd', {}, t(h.queue)),
        el('dt', {}, t('reasons')), el('dd', {}, [h.reason, ...(h.reasons || [])].join('；')),
        el('dt', {}, t('intents')), el('dd', {}, (h.intents || []).join(', ')),
        el('dt', {}, t('entities')), el('dd', {}, JSON.stringify(h.entities || {})),
        el('dt', {}, t('dialect')), el('dd', {}, h.dialect || '–'),
        el('dt', {}, t('last_words')), el('dd', {}, (h.last_utterances || []).map(u => el('div', {}, u))))) : null,
    el('h2', {}, t('decisions')),
    el('table', {}, el('tbody', {}, decisions)),
    feedbackForms(c));
}

// ------------------------------------------------------------------ customers

async function renderCustomers(q) {
  const data = await api(`/api/customers?limit=100&q=${encodeURIComponent(q || '')}`);
  const input = el('input', {type: 'search', value: q || '', placeholder: t('search'), size: '40'});
  const form = el('form', {class: 'inline', on: {submit: ev => {
    ev.preventDefault();
    location.hash = `#/customers/${encodeURIComponent(input.value)}`;
  }}}, input);
  const rows = data.items.map(c => el('tr', {},
    el('td', {}, el('a', {href: `#/customer/${encodeURIComponent(c.id)}`}, c.id)),
    el('td', {class: 'name'}, c.name), el('td', {}, c.company), el('td', {}, c.phone || ''),
    el('td', {}, c.lifecycle_stage), el('td', {}, (c.tags || []).join(', ')),
    el('td', {}, c.last_tier ? badge(c.last_tier) : '')));
  document.getElementById('main').replaceChildren(el('h1', {}, t('customers')), form,
    rows.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['customer', '', '', 'phone', 'stage', 'tags', 'tier'].map(k => el('th', {}, k ? t(k) : '')))),
      el('tbody', {}, rows)) : el('p', {class: 'empty'}, t('no_customers')));
}

async function renderCustomer(id) {
  const c = await api(`/api/customers/${encodeURIComponent(id)}`);
  const kv = obj => el('dl', {class: 'kv'}, Object.entries(obj).map(([k, v]) =>
    [el('dt', {}, k), el('dd', {}, v === null ? '–' : String(v))]));
  document.getElementById('main').replaceChildren(
    el('h1', {}, c.name || c.id, ' ', c.last_tier ? badge(c.last_tier) : ''),
    kv({id: c.id, [t('phone')]: c.phone || '–', company: c.company || '–',
        [t('stage')]: c.lifecycle_stage, [t('tags')]: (c.tags || []).join(', ') || '–'}),
    el('h2', {}, t('features')), kv(c.features), el('h2', {}, t('rfm')), kv(c.rfm),
    el('h2', {}, t('tier_history')),
    el('table', {}, el('tbody', {}, c.tier_history.slice(-100).map(h => el('tr', {},
      el('td', {}, fmtDate(h.at)), el('td', {}, badge(h.tier)), el('td', {}, h.source),
      el('td', {}, h.call_id ? el('a', {href: `#/call/${encodeURIComponent(h.call_id)}`}, h.call_id) : ''),
      el('td', {}, h.note || ''))))),
    el('h2', {}, t('calls')),
    el('table', {}, el('tbody', {}, c.calls.map(x => el('tr', {},
      el('td', {}, el('a', {href: `#/call/${encodeURIComponent(x.id)}`}, x.id)),
      el('td', {}, fmtDate(x.started_at)), el('td', {}, badge(x.final_tier)),
      el('td', {}, routeText(x.route)))))));
}

// ------------------------------------------------------------------ shell

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return [parts[0] || 'live', decodeURIComponent(parts.slice(1).join('/'))];
}

function labelStatic() {
  document.documentElement.lang = lang === 'zh' ? 'zh' : 'en';
  for (const node of document.querySelectorAll('[data-label]')) node.textContent = t(node.dataset.label);
  document.getElementById('lang').textContent = t('lang');
  const [page] = route();
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === `#/${page}`);
  }
}

async function render() {
  labelStatic();
  if (!token()) { showLogin(); return; }
  document.getElementById('login').hidden = true;
  const [page, arg] = route();
  try {
    if (page === 'queue') await renderQueue();
    else if (page === 'calls') await renderCalls();
    else if (page === 'call') await renderCall(arg);
    else if (page === 'customers') await renderCustomers(arg);
    else if (page === 'customer') await renderCustomer(arg);
    else { await loadLive(); renderLive(); }
    stream();
  } catch (e) {
    if (e.status !== 401) {
      document.getElementById('main').replaceChildren(
        el('p', {class: 'error'}, e.status === 404 ? t('not_found') : e.message));
    }
  }
}

function start() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (m) {  // `tierline serve` prints a link with the token in the fragment (never sent)
    sessionStorage.setItem('tierline-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + '#/live');
  }
  document.getElementById('login').addEventListener('submit', ev => {
    ev.preventDefault();
    sessionStorage.setItem('tierline-token', document.getElementById('token').value.trim());
    render();
  });
  document.getElementById('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('tierline-lang', lang);
    render();
  });
  window.addEventListener('hashchange', render);
  render();
}

document.addEventListener('DOMContentLoaded', start);

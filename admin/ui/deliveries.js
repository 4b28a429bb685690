// The recent deliveries of one subscription, with their attempts, and the
// Redeliver button of finished ones.

import { api } from './api.js';
import { h, fill, time, srOnly, openDialog, banner } from './dom.js';

const $ = id => document.getElementById(id);
const dialog = $('deliveries');
const list = $('dlv-list');

let current = null; // the subscription shown
let timer = 0;
let generation = 0; // answers of an older load are dropped

/** setup wires the dialog's controls. */
export function setup() {
	$('dlv-status').addEventListener('change', load);
	$('dlv-refresh').addEventListener('click', load);
	dialog.addEventListener('close', () => {
		clearTimeout(timer);
		current = null;
	});
}

/** openDeliveries shows the deliveries of sub. */
export function openDeliveries(sub) {
	current = sub;
	$('dlv-title').textContent = `Recent deliveries: ${sub.app_name}`;
	$('dlv-lead').textContent = sub.url;
	$('dlv-status').value = '';
	banner($('dlv-error'), '');
	fill(list, h('p', { class: 'muted' }, 'Loading…'));
	openDialog(dialog);
	load();
}

// load fetches the list; while some delivery is pending it loads again
// every 1.5 s, so attempts show up as they happen.
async function load() {
	clearTimeout(timer);
	if (!current) {
		return;
	}
	const sub = current;
	const gen = ++generation;
	let deliveries;
	try {
		deliveries = await api.deliveries(sub.id, $('dlv-status').value);
	} catch (err) {
		if (gen === generation) {
			banner($('dlv-error'), err.message);
		}
		return;
	}
	if (gen !== generation || sub !== current) {
		return;
	}
	banner($('dlv-error'), '');
	render(deliveries);
	if (dialog.open && deliveries.some(d => d.status === 'pending')) {
		timer = setTimeout(load, 1500);
	}
}

function render(deliveries) {
	// Keep the focus on the same button across the redraw.
	const focused = document.activeElement && list.contains(document.activeElement)
		? document.activeElement.closest('[data-id]')?.dataset.id : null;
	if (!deliveries.length) {
		fill(list, h('p', { class: 'muted' }, $('dlv-status').value
			? 'No deliveries with this status.'
			: 'No deliveries yet: they appear when the rules infer an event that this subscription wants. (Test sends are not stored.)'));
		return;
	}
	fill(list, deliveries.map(delivery));
	if (focused) {
		const again = list.querySelector(`[data-id="${CSS.escape(focused)}"] button`);
		(again || list).focus();
	}
}

const statusText = { pending: 'Pending', succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled' };

function delivery(d) {
	const titleId = `dlv-${d.id}`;
	const finished = d.status !== 'pending';
	return h('article', { class: `dlv ${d.status}`, dataset: { id: d.id, status: d.status }, 'aria-labelledby': titleId },
		h('div', { class: 'dlv-head' },
			h('h3', { id: titleId }, h('code', {}, d.event), srOnly(`, ${statusText[d.status] || d.status}`)),
			h('span', { class: `badge ${d.status}`, 'aria-hidden': 'true' }, statusText[d.status] || d.status),
			h('span', { class: 'muted' }, 'created ', time(d.created_at)),
			!finished && d.next_attempt_at && h('span', { class: 'muted' }, 'next attempt ', time(d.next_attempt_at)),
			!finished && d.waiting && h('span', { class: 'muted waiting' }, 'waiting for an earlier event of ', h('code', {}, d.order_key)),
			finished && h('button', { type: 'button', class: 'small', dataset: { action: 'redeliver' }, onclick: ev => redeliver(d, ev.currentTarget) },
				'Redeliver', srOnly(` ${d.event} ${d.id}`))),
		h('p', { class: 'mono small muted' }, `${d.id} · event ${d.event_id}`),
		d.attempts.length
			? attempts(d)
			: h('p', { class: 'muted small' }, 'No attempt yet.'));
}

function attempts(d) {
	const rows = d.attempts.map((a, i) => h('tr', { class: i === d.run_start && i > 0 ? 'new-run' : '' },
		h('td', {}, String(a.attempt), i === d.run_start && i > 0 ? h('span', { class: 'muted small' }, ' redelivered') : ''),
		h('td', {}, time(a.at)),
		h('td', { class: a.status_code >= 200 && a.status_code < 300 ? 'ok' : 'fail' }, a.status_code ? String(a.status_code) : '—'),
		h('td', {}, `${a.duration_ms} ms`),
		h('td', { class: 'outcome' },
			a.error ? h('span', { class: 'fail' }, a.error) : (a.status_code >= 200 && a.status_code < 300 ? 'delivered' : ''),
			a.response_body && h('details', {}, h('summary', {}, 'Response body'), h('pre', {}, a.response_body)))));
	// The table scrolls sideways on a narrow screen; the wrapper can be
	// focused so that the keyboard can scroll it.
	return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': `Attempts of ${d.event} ${d.id}` },
		h('table', { class: 'attempts' },
			h('thead', {}, h('tr', {},
				h('th', { scope: 'col' }, 'Attempt'),
				h('th', { scope: 'col' }, 'When'),
				h('th', { scope: 'col' }, 'Status'),
				h('th', { scope: 'col' }, 'Duration'),
				h('th', { scope: 'col' }, 'Outcome'))),
			h('tbody', {}, rows)));
}

async function redeliver(d, button) {
	button.disabled = true;
	try {
		await api.redeliver(d.id);
		$('dlv-status-msg').textContent = `Delivery ${d.id} queued again.`;
	} catch (err) {
		banner($('dlv-error'), err.message);
	}
	load();
}

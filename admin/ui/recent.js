// The page's recent events: what the rules stored lately, newest first,
// shadow ones marked, refreshed every two seconds while "Live" is on and
// the page is visible.

import { api } from './api.js';
import { h, fill, time, banner } from './dom.js';

const $ = id => document.getElementById(id);
const every = 2000;
let timer = null;
let shown = null; // the ids shown last, so an unchanged list is not redrawn (null: redraw)

async function load() {
	const filter = $('recent-event').value.trim();
	try {
		const events = await api.recent(filter);
		banner($('recent-error'), '');
		const ids = events.map(e => e.id).join();
		if (ids === shown) {
			return;
		}
		shown = ids;
		fill($('recent-list'), events.length
			? events.map(item)
			: h('li', { class: 'muted' }, filter ? `No recent ${filter} events.` : 'No events yet: use the app, and what its rules fire shows here.'));
	} catch (err) {
		shown = null;
		banner($('recent-error'), err.fields && err.fields.event ? `Event: ${err.fields.event}` : err.message);
	}
}

function item(ev) {
	return h('li', { class: `recent${ev.shadow ? ' is-shadow' : ''}`, 'data-id': ev.id },
		h('div', { class: 'dlv-head' },
			h('h3', {}, ev.event),
			ev.shadow ? h('span', { class: 'badge shadow', title: 'A rule in shadow mode: stored, never delivered' }, 'shadow') : null,
			time(ev.timestamp),
			h('code', { class: 'muted' }, ev.id)),
		h('pre', { class: 'data' }, JSON.stringify(ev.data, null, 2)));
}

// schedule polls while Live is on and the page can be seen.
function schedule() {
	clearInterval(timer);
	timer = null;
	if ($('recent-live').checked && document.visibilityState === 'visible') {
		timer = setInterval(load, every);
	}
}

export function setup() {
	$('recent-live').addEventListener('change', () => {
		schedule();
		load();
	});
	$('recent-event').addEventListener('change', () => {
		shown = null;
		load();
	});
	document.addEventListener('visibilitychange', schedule);
	load();
	schedule();
}

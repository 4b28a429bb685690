// The page's Learn view, shown while a handler has learn on: the routes
// observed and the rule file proposed from them, to download and edit.

import { api } from './api.js';
import { h, fill, banner } from './dom.js';

const $ = id => document.getElementById(id);
let proposal = '';

const statuses = m => Object.entries(m || {}).map(([k, v]) => `${k}×${v}`).join(' ');

function route(rt) {
	return h('tr', {},
		h('td', {}, h('code', {}, rt.method)),
		h('td', {}, h('code', {}, rt.path)),
		h('td', {}, rt.resource || ''),
		h('td', {}, rt.role || ''),
		h('td', { class: 'num' }, String(rt.count)),
		h('td', {}, statuses(rt.statuses), rt.failures && Object.keys(rt.failures).length ? h('span', { class: 'muted' }, ` · failed ${statuses(rt.failures)}`) : null));
}

// load shows the view when learn mode is on (the API answers 404 when it
// is off), with what was observed and the proposal.
export async function load() {
	let seen;
	try {
		seen = await api.learned();
	} catch (err) {
		$('learn-section').hidden = err.status === 404 || err.status === 503;
		banner($('learn-error'), $('learn-section').hidden ? '' : err.message);
		return;
	}
	$('learn-section').hidden = false;
	banner($('learn-error'), '');
	const m = seen.model || {};
	fill($('learn-stats'), `${seen.observed} requests observed`,
		seen.sampled_out ? ` (${seen.sampled_out} more let through unobserved, over the rate)` : '',
		` · ${(m.routes || []).length} routes · ${(m.resources || []).length} resources`);
	fill($('learn-routes'), (m.routes || []).map(route));
	try {
		proposal = await api.proposal();
		$('learn-rules').textContent = proposal;
	} catch (err) {
		banner($('learn-error'), err.message);
	}
}

function download() {
	const url = URL.createObjectURL(new Blob([proposal], { type: 'application/yaml' }));
	const a = h('a', { href: url, download: 'rules.yaml' });
	document.body.append(a);
	a.click();
	a.remove();
	URL.revokeObjectURL(url);
}

async function forget() {
	try {
		await api.forget();
		load();
	} catch (err) {
		banner($('learn-error'), err.message);
	}
}

export function setup() {
	$('learn-refresh').addEventListener('click', load);
	$('learn-download').addEventListener('click', download);
	$('learn-forget').addEventListener('click', forget);
	load();
}

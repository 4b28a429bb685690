// The store's state, from the `store` object of GET /webhooks/stats
// (webhook.Health): which backend, whether it takes writes, and what the
// backend tells of itself (the room on its disk, or its cluster).

import { h, ago } from './dom.js';

/**
 * storeStatus renders a store object: a section whose data-status and
 * data-backend say what it shows. A degraded store stands out, with why
 * and since when.
 */
export function storeStatus(s) {
	const degraded = s.status === 'degraded';
	return h('section', {
		class: `store${degraded ? ' is-degraded' : ''}`, 'aria-labelledby': 'store-title',
		dataset: { status: s.status || '', backend: s.backend || '' },
	},
	h('div', { class: 'store-head' },
		h('h2', { id: 'store-title' }, 'Store'),
		h('span', { class: `badge ${degraded ? 'failed' : 'active'}` }, degraded ? 'Degraded' : 'OK'),
		!!s.backend && h('span', { class: 'store-backend mono' }, s.backend)),
	degraded && h('div', { class: 'store-degraded' },
		h('p', {}, h('strong', {}, 'The store takes no writes'),
			!!s.since && [' since ', since(s.since)],
			'. New events are skipped (each logged whole, to recover from the log) and deliveries wait until it takes writes again.'),
		!!s.reason && h('p', { class: 'store-reason' }, s.reason)),
	s.free_bytes !== undefined && h('dl', { class: 'store-facts' },
		fact('Free space', bytes(s.free_bytes), 'free'),
		fact('Writes stop below', bytes(s.reserve_bytes), 'reserve')),
	s.cluster && cluster(s.cluster));
}

// cluster is what a clustered backend sees of its cluster from this node.
function cluster(c) {
	const sync = c.sync_always === undefined ? h('span', { class: 'muted' }, 'unknown')
		: c.sync_always ? 'yes' : h('span', { class: 'warn' }, 'no');
	return [
		h('dl', { class: 'store-facts' },
			fact('Connected to', c.connected
				? h('span', { class: 'mono' }, c.server || 'a server')
				: h('span', { class: 'fail' }, 'not connected'), 'server'),
			!!c.name && fact('Cluster', c.name, 'name'),
			fact('Known servers', c.servers && c.servers.length
				? h('ul', { class: 'store-servers' }, c.servers.map(u => h('li', { class: 'mono' }, u)))
				: h('span', { class: 'muted' }, 'none'), 'servers'),
			c.replicas > 0 && fact('Replicas', String(c.replicas), 'replicas'),
			fact('Every write fsynced', sync, 'sync'),
			c.connected && c.rtt_ms !== undefined && fact('Round trip', `${round(c.rtt_ms)} ms`, 'rtt')),
		c.sync_always === false && h('p', { class: 'store-warning' },
			h('strong', {}, 'Writes are not fsynced'),
			': the servers acknowledge a write before it is on disk (they run without ', h('code', {}, 'sync_interval: always'),
			'). Acknowledged events may be lost if the whole cluster loses power.'),
	];
}

// since is when the store became degraded: the date, and how long ago.
function since(iso) {
	const d = new Date(iso);
	return [h('time', { datetime: iso }, d.toLocaleString()), ` (${ago(d)})`];
}

function fact(label, value, key) {
	return h('div', { dataset: { fact: key } }, h('dt', {}, label), h('dd', {}, value));
}

const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** bytes says a byte count in binary units, "42.3 GiB", the exact count as its title. */
export function bytes(n) {
	let v = Number(n) || 0;
	let u = 0;
	while (v >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	const text = u === 0 ? `${v} bytes` : `${v < 10 ? round(v, 1) : Math.round(v)} ${units[u]}`;
	return h('span', { title: `${Number(n).toLocaleString()} bytes` }, text);
}

// round keeps a figure short: 0.42, 3.1, 12.
function round(v, digits) {
	const d = digits ?? (v < 1 ? 2 : v < 10 ? 1 : 0);
	return Number(v.toFixed(d)).toString();
}

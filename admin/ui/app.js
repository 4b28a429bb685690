// The management page of caddy-webhooks: lists the subscriptions and runs
// their actions (edit, test, deliveries, rotate the secret, delete,
// resume). Served by Caddy's admin API at /webhooks/ui/.

import { api } from './api.js';
import { h, fill, time, srOnly, openDialog, banner } from './dom.js';
import * as editor from './editor.js';
import * as deliveries from './deliveries.js';
import * as recent from './recent.js';
import * as learn from './learn.js';
import { storeStatus } from './store.js';

const $ = id => document.getElementById(id);
const list = $('list');

const state = {
	subscriptions: [],
	events: [], // the catalogue of /webhooks/events
	lastAction: null, // {id, action} of the card button used last, to focus it again after a redraw
	storeStatus: '', // the store's status shown last, to announce a change
	storeBackend: '', // the store's backend, known from the last answer that had it
};

// refresh loads the subscriptions and the event catalogue, then redraws.
async function refresh() {
	try {
		const [subs, events] = await Promise.all([api.subscriptions(), api.events()]);
		state.subscriptions = subs;
		state.events = events;
		banner($('banner'), '');
		render();
	} catch (err) {
		banner($('banner'), err.message);
		if (!state.subscriptions.length) {
			fill(list);
		}
	}
	refreshStats();
}

async function refreshStats() {
	try {
		const s = await api.stats();
		const d = s.deliveries || {};
		fill($('stats'),
			`${s.subscriptions} subscription${s.subscriptions === 1 ? '' : 's'} (${s.active_subscriptions} active)`,
			` · ${s.events} event${s.events === 1 ? '' : 's'} stored`,
			` · queue ${s.queue_depth ?? 0}`,
			` · deliveries: ${d.pending ?? 0} pending, ${d.succeeded ?? 0} succeeded, ${d.failed ?? 0} failed`);
		showStore(s.store || {});
	} catch (err) {
		fill($('stats'));
		// 503: the store is out of reach (its NATS cluster down, say) and
		// the answer has only the reason: show the store taking no writes.
		if (err.status === 503) {
			showStore({ status: 'degraded', reason: err.message, backend: state.storeBackend });
		} else {
			fill($('store'));
		}
	}
}

// showStore shows the store's state, and has screen readers say when it
// stops or resumes taking writes (not on every refresh).
function showStore(store) {
	fill($('store'), storeStatus(store));
	state.storeBackend = store.backend || state.storeBackend;
	const was = state.storeStatus;
	state.storeStatus = store.status;
	if (store.status === was || (!was && store.status !== 'degraded')) {
		return;
	}
	$('store-live').textContent = store.status === 'degraded'
		? `The store takes no writes: ${store.reason || 'degraded'}`
		: 'The store takes writes again.';
}

function render() {
	const subs = state.subscriptions;
	if (!subs.length) {
		fill(list, h('div', { class: 'empty' },
			h('p', {}, 'No subscriptions yet. A subscription sends the events that the rules infer to a URL, signed.'),
			h('button', { type: 'button', class: 'primary', onclick: () => editor.openEditor(null, state.events) }, 'Create the first one')));
		return;
	}
	fill(list, subs.map(card));
	// The redraw replaced the button that had the focus: focus its twin.
	const a = state.lastAction;
	if (a && (document.activeElement === document.body || !document.activeElement)) {
		const b = list.querySelector(`[data-id="${CSS.escape(a.id)}"] [data-action="${a.action}"]`);
		if (b) {
			b.focus();
		}
	}
}

const configName = sub => sub.id.replace(/^sub_/, '');
const sentence = s => /[.!?]$/.test(s) ? s : `${s}.`;

function card(sub) {
	const config = sub.managed_by === 'config';
	const name = sub.app_name || sub.url;
	const titleId = `sub-${sub.id}`;
	const result = h('p', { class: 'test-result', role: 'status', 'aria-live': 'polite' });
	const button = (label, action, onclick, cls) => h('button', {
		type: 'button', class: cls, dataset: { action },
		onclick: ev => {
			state.lastAction = { id: sub.id, action };
			onclick(ev.currentTarget);
		},
	}, label, srOnly(` ${name}`));
	const st = sub.stats || {};

	return h('article', { class: `sub${sub.is_active ? '' : ' is-paused'}`, dataset: { id: sub.id }, 'aria-labelledby': titleId },
		h('div', { class: 'sub-head' },
			h('h3', { id: titleId }, name),
			h('span', { class: `badge ${sub.is_active ? 'active' : 'paused'}` }, sub.is_active ? 'Active' : 'Paused'),
			config && h('span', { class: 'badge config' }, 'Config')),
		h('p', { class: 'url mono' }, sub.url),
		sub.description && h('p', { class: 'desc' }, sub.description),
		h('ul', { class: 'chips', 'aria-label': 'Events' }, sub.events.map(e => h('li', {}, h('code', {}, e)))),
		!sub.is_active && h('div', { class: 'paused-note' },
			h('p', {}, h('strong', {}, 'Paused'), `: ${sentence(sub.disabled_reason || 'switched off by hand')}`,
				' It gets no new deliveries; pending ones wait.'),
			config
				? h('p', {}, 'It resumes when its block in the config changes and Caddy reloads.')
				: button('Resume', 'resume', b => resume(sub, name, b), 'primary small')),
		config && h('p', { class: 'managed' },
			'Declared in Caddy\'s config: the ', h('code', {}, `subscription ${configName(sub)}`),
			' block of the ', h('code', {}, 'webhooks'), ' global option. Read-only here: change it there and reload Caddy.'),
		h('dl', { class: 'stats-grid' },
			stat('Sent', String(st.total_sent ?? 0)),
			stat('Failed', String(st.total_failed ?? 0)),
			stat('Last sent', time(st.last_sent_at)),
			stat('Last error', st.last_error ? h('span', { class: 'fail' }, st.last_error) : h('span', { class: 'muted' }, 'none'),
				'wide'),
			st.consecutive_failures > 0 && stat('Failures in a row', String(st.consecutive_failures))),
		h('p', { class: 'meta' },
			`Signature ${sub.signature}`,
			sub.secret_hint && [' · secret ', h('code', {}, sub.secret_hint)],
			sub.public_key && [' · public key ', h('code', { class: 'pubkey' }, sub.public_key)],
			` · rate ${sub.rate_limit}`,
			sub.filters && sub.filters.site_ids && sub.filters.site_ids.length ? ` · sites ${sub.filters.site_ids.join(', ')}` : '',
			sub.previous_secret_expires_at ? [' · previous secret valid until ', time(sub.previous_secret_expires_at)] : '',
			sub.auth ? ` · auth ${sub.auth.type}` : '',
			sub.tls && sub.tls.client_certificate ? ' · client certificate' : '',
			sub.ordered ? ' · ordered' : '',
			' · ', h('span', { class: 'mono' }, sub.id)),
		h('div', { class: 'actions' },
			!config && button('Edit', 'edit', () => editor.openEditor(sub, state.events)),
			button('Send test', 'test', b => sendTest(sub, b, result)),
			button('Deliveries', 'deliveries', () => deliveries.openDeliveries(sub)),
			!config && button('Rotate secret', 'rotate', () => openRotate(sub)),
			!config && button('Delete', 'delete', () => openDelete(sub), 'danger')),
		result);
}

function stat(label, value, cls) {
	return h('div', { class: cls }, h('dt', {}, label), h('dd', {}, value));
}

async function sendTest(sub, button, out) {
	button.disabled = true;
	out.className = 'test-result';
	fill(out, 'Sending a webhook.test event…');
	try {
		const r = await api.test(sub.id);
		out.className = `test-result ${r.success ? 'ok' : 'fail'}`;
		out.dataset.success = String(r.success);
		fill(out,
			h('strong', {}, r.success ? 'Test delivered' : 'Test failed'),
			`: ${r.status_code ? `HTTP ${r.status_code}` : 'no answer'} in ${r.duration_ms} ms`,
			r.error ? ` · ${r.error}` : '');
	} catch (err) {
		out.className = 'test-result fail';
		out.dataset.success = 'false';
		fill(out, h('strong', {}, 'Test not sent'), `: ${err.message}`);
	} finally {
		button.disabled = false;
	}
}

async function resume(sub, name, button) {
	button.disabled = true;
	try {
		await api.update(sub.id, { is_active: true });
		toast(`${name} resumed: its failure count starts afresh and its deliveries go out again.`);
	} catch (err) {
		banner($('banner'), err.message);
	}
	refresh();
}

// Rotate the secret: ask for the grace period, then show the new secret.

let rotating = null;

function openRotate(sub) {
	rotating = sub;
	$('rotate-title').textContent = `Rotate the secret of ${sub.app_name}`;
	$('rotate-lead').textContent = `A new secret is generated for ${sub.url} and shown once. The receiver must verify with it from now on.`;
	$('rotate-grace').value = '24h';
	$('rotate-grace-hint').textContent = sub.signature === 'standard'
		? 'Until then, every delivery carries two signatures, one with each secret, so the receiver can switch over at any time.'
		: `A ${sub.signature} signature is made with one secret only: deliveries are signed with the new one at once, whatever the grace period. Update the receiver right away.`;
	banner($('rotate-error'), '');
	openDialog($('rotate'));
}

async function rotate() {
	const sub = rotating;
	const grace = $('rotate-grace').value;
	try {
		const r = await api.rotate(sub.id, grace);
		$('rotate').close();
		const until = r.previous_secret_expires_at;
		if (r.public_key) {
			showSecret(`New key pair for ${r.app_name}`,
				'Give the receiver the new public key. Until the grace period ends, deliveries carry a signature of each key.',
				r.public_key,
				until ? `The previous public key (${r.previous_public_key}) stays valid until ${new Date(until).toLocaleString()}.` : 'No grace period: the previous key no longer signs anything.');
			refresh();
			return;
		}
		showSecret(`New secret for ${r.app_name}`,
			'The previous secret was replaced. Copy the new one to the receiver now: it is shown only this once.',
			r.secret,
			until
				? `The previous secret stays valid until ${new Date(until).toLocaleString()} (grace period ${grace}).`
				: 'No grace period: the previous secret no longer signs anything.');
		refresh();
	} catch (err) {
		banner($('rotate-error'), err.message);
	}
}

// The secret dialog shows a secret once (after a create or a rotation),
// and copies it to the clipboard: at once (what an admin expects of a
// secret shown once),
// and again with the Copy button.

function showSecret(title, lead, secret, note) {
	$('secret-title').textContent = title;
	$('secret-label').textContent = secret.startsWith('whpk_') ? 'Public key' : 'Secret';
	$('secret-lead').textContent = lead;
	$('secret-value').value = secret;
	$('secret-copied').textContent = '';
	delete $('secret-copied').dataset.copied;
	$('secret-grace').textContent = note || '';
	$('secret-grace').hidden = !note;
	openDialog($('secret'));
	$('secret-copy').focus();
	copySecret(true);
}

async function copySecret(auto) {
	const input = $('secret-value');
	const msg = $('secret-copied');
	try {
		await navigator.clipboard.writeText(input.value);
		msg.textContent = !auto && msg.dataset.copied === 'true' ? 'Copied to the clipboard again.' : 'Copied to the clipboard.';
		msg.dataset.copied = 'true';
		return;
	} catch {
		// No clipboard API (a page not served from localhost or https)
		// or no permission: fall back on the selection.
	}
	if (auto) {
		return; // copying without a click needs the clipboard API
	}
	input.focus();
	input.select();
	let ok = false;
	try {
		ok = document.execCommand('copy');
	} catch {
		ok = false;
	}
	msg.textContent = ok ? 'Copied to the clipboard.' : 'Could not copy: the secret is selected, press Ctrl+C (⌘C on a Mac).';
	msg.dataset.copied = String(ok);
}

// Delete, after a confirmation that names the subscription.

let deleting = null;

function openDelete(sub) {
	deleting = sub;
	$('delete-title').textContent = `Delete ${sub.app_name}?`;
	fill($('delete-lead'),
		'The subscription ', h('strong', {}, sub.app_name), ' (', h('span', { class: 'mono' }, sub.url),
		`) stops receiving ${sub.events.join(', ')}. Its pending deliveries are cancelled. This cannot be undone.`);
	$('delete-confirm').textContent = `Delete ${sub.app_name}`;
	banner($('delete-error'), '');
	openDialog($('delete'));
}

async function confirmDelete() {
	const sub = deleting;
	try {
		await api.remove(sub.id);
		$('delete').close();
		toast(`Deleted ${sub.app_name}.`);
		state.lastAction = null;
		await refresh();
		list.focus();
	} catch (err) {
		banner($('delete-error'), err.message);
	}
}

// toast confirms an action for a few seconds, or until the next click or
// key press, so that it never hides what comes next.
let toastTimer = 0;

function toast(msg) {
	const t = $('toast');
	t.textContent = msg;
	t.classList.add('show');
	clearTimeout(toastTimer);
	toastTimer = setTimeout(hideToast, 6000);
}

function hideToast() {
	clearTimeout(toastTimer);
	$('toast').classList.remove('show');
}

document.addEventListener('pointerdown', hideToast);
document.addEventListener('keydown', hideToast);

function saved(sub, created) {
	if (sub.public_key && (created || sub.public_key !== (state.subscriptions.find(s => s.id === sub.id) || {}).public_key)) {
		showSecret(`${created ? 'Subscription created' : 'New key pair'}: ${sub.app_name}`,
			`It signs every delivery to ${sub.url} with its private key, which never leaves Caddy. Give the receiver this public key: it verifies signatures and can make none.`,
			sub.public_key, '');
	} else if (created || sub.secret) {
		showSecret(`${created ? 'Subscription created' : 'New secret'}: ${sub.app_name}`,
			`It signs every delivery to ${sub.url} with this secret. Give it to the receiver: it is shown only this once.`,
			sub.secret, '');
	} else {
		toast(`Saved ${sub.app_name}.`);
	}
	refresh();
}

editor.setup(saved);
deliveries.setup();
recent.setup();
learn.setup();
$('new').addEventListener('click', () => editor.openEditor(null, state.events));
$('refresh').addEventListener('click', refresh);
$('secret-copy').addEventListener('click', () => copySecret(false));
$('rotate-form').addEventListener('submit', ev => {
	ev.preventDefault();
	rotate();
});
$('delete-form').addEventListener('submit', ev => {
	ev.preventDefault();
	confirmDelete();
});
refresh();

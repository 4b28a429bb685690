// The form that creates and edits a subscription.
//
// It checks, before sending, what the API would refuse anyway (a URL, at
// least one event; the secret is optional and generated when left empty),
// then shows the API's field errors ({"error", "fields": {...}}) next to
// the fields they name.

import { api, ApiError } from './api.js';
import { h, fill, openDialog, banner } from './dom.js';
import * as credentials from './auth.js';

const $ = id => document.getElementById(id);
const dialog = $('editor');
const form = $('editor-form');

// The API's field names, and the id of the control that shows each one's
// error (its error paragraph is that id + "-error").
const controls = {
	url: 'f-url',
	app_name: 'f-app_name',
	description: 'f-description',
	events: 'f-events',
	signature: 'f-signature',
	is_active: 'f-is_active',
	secret: 'f-secret',
	filters: 'f-site_ids',
	'filters.site_ids': 'f-site_ids',
	rate_limit: 'f-rate_limit',
	headers: 'f-headers',
	filter: 'f-filter',
	transform: 'f-transform',
	ordered: 'f-ordered',
	...credentials.controls,
};

let editing = null; // the subscription being edited; null when creating
let saved = () => {};

/** setup wires the form; onSaved(subscription, created) runs after a save. */
export function setup(onSaved) {
	$('f-transform-try').addEventListener('click', preview);
	saved = onSaved;
	form.addEventListener('submit', ev => {
		ev.preventDefault();
		submit();
	});
	$('f-signature').addEventListener('change', secretHint);
	credentials.setup();
	// A field's error goes once the field changes.
	form.addEventListener('input', ev => clearError(ev.target));
}

function clearError(el) {
	const id = el.name === 'event' || el.id === 'f-patterns' ? 'f-events' : el.id;
	const msg = $(`${id}-error`);
	if (!msg) {
		return;
	}
	msg.textContent = '';
	if (id === 'f-events') {
		$('f-events').classList.remove('invalid');
		$('f-patterns').removeAttribute('aria-invalid');
	} else {
		el.removeAttribute('aria-invalid');
	}
}

/** openEditor shows the form for sub, or an empty one when sub is null. */
export function openEditor(sub, catalogue) {
	editing = sub;
	form.reset();
	clearErrors();
	$('f-transform-preview').hidden = true;
	$('editor-title').textContent = sub ? `Edit ${sub.app_name}` : 'New subscription';
	$('editor-submit').textContent = sub ? 'Save changes' : 'Create subscription';

	const known = new Set(catalogue.map(e => e.name));
	const chosen = new Set(sub ? sub.events : []);
	fill($('f-events-list'), catalogue.length
		? catalogue.map(ev => eventChoice(ev, chosen.has(ev.name)))
		: h('p', { class: 'muted' }, 'The loaded rules emit no events: enter patterns, or load rule files.'));

	if (sub) {
		const v = valuesOf(sub, known);
		$('f-url').value = v.url;
		$('f-app_name').value = v.app_name;
		$('f-description').value = v.description;
		$('f-patterns').value = v.patterns.join(' ');
		$('f-signature').value = v.signature;
		$('f-is_active').checked = v.is_active;
		$('f-site_ids').value = v.site_ids.join(' ');
		$('f-rate_limit').value = v.rate_limit;
		$('f-headers').value = Object.entries(v.headers).map(([k, val]) => `${k}: ${val}`).join('\n');
		$('f-filter').value = v.filter;
		$('f-transform').value = v.transform;
		$('f-ordered').checked = v.ordered;
		form.querySelector('details.advanced').open = v.site_ids.length > 0 || Object.keys(v.headers).length > 0 || v.filter !== '' || v.transform !== '' || v.ordered;
	}
	credentials.fill(sub);
	secretHint();
	openDialog(dialog);
}

function eventChoice(ev, checked) {
	const id = `ev-${ev.name}`;
	return h('div', { class: 'check' },
		h('input', { type: 'checkbox', id, name: 'event', value: ev.name, checked }),
		h('label', { for: id },
			h('code', {}, ev.name),
			ev.description && h('span', { class: 'desc' }, ev.description)));
}

function secretHint() {
	const scheme = $('f-signature').value;
	$('f-secret').disabled = scheme === 'ed25519';
	if (scheme === 'ed25519') {
		$('f-secret-hint').textContent = 'An ed25519 subscription gets a key pair: its private key never leaves Caddy, the receiver verifies with the public key (whpk_…) shown after saving.';
		return;
	}
	const own = scheme === 'standard'
		? 'Your own must be whsec_ followed by the base64 of 24 to 64 bytes.'
		: 'Your own may be any text of 16 characters or more.';
	$('f-secret-hint').textContent = editing
		? `Leave empty to keep the current one (${editing.secret_hint || 'hidden'}); Rotate secret makes a new one. ${own}`
		: `Leave empty to have one generated (whsec_…), shown once after saving. ${own}`;
}

// The form's values, in the shape valuesOf gives for a subscription.
function formValues() {
	const events = [...form.querySelectorAll('input[name="event"]:checked')].map(i => i.value);
	const patterns = words($('f-patterns').value);
	const headers = {};
	const headerErrors = [];
	for (const line of $('f-headers').value.split('\n')) {
		if (!line.trim()) {
			continue;
		}
		const i = line.indexOf(':');
		if (i <= 0) {
			headerErrors.push(`"${line.trim()}" is not Name: value`);
			continue;
		}
		headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
	}
	return {
		url: $('f-url').value.trim(),
		app_name: $('f-app_name').value.trim(),
		description: $('f-description').value.trim(),
		events,
		patterns,
		signature: $('f-signature').value,
		is_active: $('f-is_active').checked,
		secret: $('f-secret').value.trim() ? $('f-secret').value : '',
		site_ids: words($('f-site_ids').value),
		rate_limit: $('f-rate_limit').value.trim(),
		headers,
		headerErrors,
		filter: $('f-filter').value.trim(),
		transform: $('f-transform').value.trim(),
		ordered: $('f-ordered').checked,
		credentials: credentials.values(),
	};
}

// valuesOf gives a subscription's values as the form holds them: events
// the rules know are checkboxes, everything else (patterns, events of
// rules no longer loaded) goes in the patterns field.
function valuesOf(sub, known) {
	return {
		url: sub.url,
		app_name: sub.app_name || '',
		description: sub.description || '',
		events: sub.events.filter(e => known.has(e)),
		patterns: sub.events.filter(e => !known.has(e)),
		signature: sub.signature,
		is_active: sub.is_active,
		secret: '',
		site_ids: (sub.filters && sub.filters.site_ids) || [],
		rate_limit: sub.rate_limit || '',
		headers: sub.headers || {},
		filter: sub.filter || '',
		transform: sub.transform || '',
		ordered: !!sub.ordered,
	};
}

const words = s => s.split(/[\s,]+/).filter(Boolean);

/** validate returns the client-side errors by API field name. */
function validate(v) {
	const errors = {};
	if (!v.url) {
		errors.url = 'Enter the URL that receives the webhooks.';
	} else if (!isHTTPURL(v.url)) {
		errors.url = 'Enter an absolute http:// or https:// URL.';
	}
	if (v.events.length + v.patterns.length === 0) {
		errors.events = 'Pick at least one event, or enter a pattern.';
	}
	if (v.headerErrors.length) {
		errors.headers = v.headerErrors.join('; ');
	}
	return errors;
}

function isHTTPURL(s) {
	try {
		const u = new URL(s);
		return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
	} catch {
		return false;
	}
}

function hostOf(s) {
	try {
		return new URL(s).hostname;
	} catch {
		return '';
	}
}

// body returns what to send: every field on create; on edit only the
// fields that changed (PATCH), so that fields the form shows with their
// effective value (a rate limit that follows Caddy's default) stay as
// they are.
function body(v) {
	const events = [...v.events, ...v.patterns];
	const out = {
		url: v.url,
		// The API names an app after the URL's host when created without
		// a name; an edit that clears the name does the same.
		app_name: v.app_name || hostOf(v.url),
		description: v.description,
		events,
		signature: v.signature,
		is_active: v.is_active,
		filters: { site_ids: v.site_ids },
		rate_limit: v.rate_limit || null,
		headers: v.headers,
		filter: v.filter,
		transform: v.transform,
		ordered: v.ordered,
	};
	if (v.secret) {
		out.secret = v.secret;
	}
	if (!editing) {
		if (!v.rate_limit) {
			delete out.rate_limit;
		}
		for (const [k, val] of Object.entries(v.credentials)) {
			if (val) {
				out[k] = val;
			}
		}
		return out;
	}
	const was = valuesOf(editing, new Set());
	const same = {
		url: out.url === was.url,
		app_name: out.app_name === was.app_name,
		description: out.description === was.description,
		events: sameSet(events, editing.events),
		signature: out.signature === was.signature,
		is_active: out.is_active === was.is_active,
		filters: sameSet(v.site_ids, was.site_ids),
		rate_limit: v.rate_limit === was.rate_limit,
		headers: JSON.stringify(Object.entries(v.headers).sort()) === JSON.stringify(Object.entries(was.headers).sort()),
		filter: v.filter === was.filter,
		transform: v.transform === was.transform,
		ordered: v.ordered === was.ordered,
	};
	for (const [k, unchanged] of Object.entries(same)) {
		if (unchanged) {
			delete out[k];
		}
	}
	return { ...out, ...credentials.changes(v.credentials, editing) };
}

const sameSet = (a, b) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

async function submit() {
	clearErrors();
	const v = formValues();
	const errors = validate(v);
	if (Object.keys(errors).length) {
		showErrors(errors);
		return;
	}
	const button = $('editor-submit');
	button.disabled = true;
	try {
		const sub = editing ? await api.update(editing.id, body(v)) : await api.create(body(v));
		dialog.close();
		saved(sub, !editing);
	} catch (err) {
		if (err instanceof ApiError && Object.keys(err.fields).length) {
			showErrors(err.fields, err.message);
		} else {
			banner($('editor-error'), err.message);
		}
	} finally {
		button.disabled = false;
	}
}

function clearErrors() {
	banner($('editor-error'), '');
	for (const el of form.querySelectorAll('.error')) {
		el.textContent = '';
	}
	for (const el of form.querySelectorAll('[aria-invalid]')) {
		el.removeAttribute('aria-invalid');
	}
	$('f-events').classList.remove('invalid');
}

// showErrors puts each message next to its field, lists the others (a
// field the form does not have) in the form's banner, and moves the focus
// to the first field in error.
function showErrors(errors, message) {
	const others = [];
	for (const [field, msg] of Object.entries(errors)) {
		const id = controls[field];
		if (!id) {
			others.push(`${field}: ${msg}`);
			continue;
		}
		$(`${id}-error`).textContent = msg;
		if (id === 'f-events') {
			$('f-events').classList.add('invalid');
			$('f-patterns').setAttribute('aria-invalid', 'true');
		} else {
			$(id).setAttribute('aria-invalid', 'true');
		}
		if (['f-site_ids', 'f-rate_limit', 'f-headers', 'f-filter', 'f-transform', 'f-ordered'].includes(id)) {
			form.querySelector('details.advanced').open = true;
		}
		if (field === 'auth' || field === 'tls' || field.startsWith('auth.') || field.startsWith('tls.')) {
			$('f-credentials').open = true;
		}
	}
	if (message || others.length) {
		banner($('editor-error'), [message || 'Please correct the fields below.', ...others].join(' · '));
	}
	const first = [...form.querySelectorAll('[aria-invalid="true"]')][0];
	if (first) {
		const checkbox = first.id === 'f-patterns' && form.querySelector('input[name="event"]');
		(checkbox || first).focus();
	}
}

// preview shows what the transformation builds from the newest stored
// event the subscription would get, or why it cannot.
async function preview() {
	const out = $('f-transform-preview');
	const v = formValues();
	$('f-transform-error').textContent = '';
	$('f-transform').removeAttribute('aria-invalid');
	try {
		const p = await api.preview(v.transform, [...v.events, ...v.patterns]);
		out.textContent = `${p.event.event} ${p.event.id} →\n${JSON.stringify(p.data, null, 2)}`;
		out.hidden = false;
	} catch (err) {
		out.hidden = true;
		if (err.fields && err.fields.transform) {
			$('f-transform-error').textContent = err.fields.transform;
			$('f-transform').setAttribute('aria-invalid', 'true');
		} else {
			out.textContent = err.message;
			out.hidden = false;
		}
	}
}

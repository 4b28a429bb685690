// Small DOM helpers. Everything the API returns (names, URLs, receivers'
// answers) is untrusted text: it is only ever put in the page as text
// nodes and attribute values, never as HTML.

/**
 * h builds an element: h('button', {class: 'primary', onclick: f}, 'Save').
 * Props: class, dataset (object), on<event> (listener), checked/value/
 * hidden/disabled (properties), anything else an attribute (false, null
 * and undefined leave it out). Children: nodes, strings, arrays, or
 * false/null/undefined (skipped).
 */
export function h(tag, props, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(props || {})) {
		if (v === undefined || v === null || v === false) {
			continue;
		}
		if (k === 'class') {
			el.className = v;
		} else if (k === 'dataset') {
			Object.assign(el.dataset, v);
		} else if (k.startsWith('on') && typeof v === 'function') {
			el.addEventListener(k.slice(2), v);
		} else if (k === 'checked' || k === 'value' || k === 'hidden' || k === 'disabled') {
			el[k] = v;
		} else {
			el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false) {
			continue;
		}
		if (Array.isArray(c)) {
			append(el, c);
		} else {
			el.append(c instanceof Node ? c : String(c));
		}
	}
}

/** Replaces the children of el. */
export function fill(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

/** A span read by screen readers only. */
export const srOnly = text => h('span', { class: 'visually-hidden' }, text);

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** A <time> for an RFC 3339 string: relative text, the full date as title. */
export function time(iso) {
	if (!iso) {
		return h('span', { class: 'muted' }, 'never');
	}
	const d = new Date(iso);
	return h('time', { datetime: iso, title: d.toLocaleString() }, ago(d));
}

/** "3 minutes ago", "in 2 hours", or the date when far off. */
export function ago(d) {
	const s = (d.getTime() - Date.now()) / 1000;
	const abs = Math.abs(s);
	if (abs < 45) {
		return relative.format(Math.round(s), 'second');
	}
	if (abs < 45 * 60) {
		return relative.format(Math.round(s / 60), 'minute');
	}
	if (abs < 22 * 3600) {
		return relative.format(Math.round(s / 3600), 'hour');
	}
	if (abs < 7 * 86400) {
		return relative.format(Math.round(s / 86400), 'day');
	}
	return d.toLocaleString();
}

/** Opens a dialog as modal; buttons with data-close inside close it. */
export function openDialog(dialog) {
	if (!dialog.dataset.wired) {
		dialog.dataset.wired = '1';
		for (const b of dialog.querySelectorAll('[data-close]')) {
			b.addEventListener('click', () => dialog.close());
		}
	}
	if (!dialog.open) {
		dialog.showModal();
		// Focusing the first field may scroll a tall dialog: show its title.
		dialog.scrollTop = 0;
	}
}

/** Shows msg in a banner element, or hides it when msg is empty. */
export function banner(el, msg) {
	el.hidden = !msg;
	el.textContent = msg || '';
}

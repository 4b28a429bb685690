// The admin API of caddy-webhooks, as the page uses it.
//
// URLs are relative to the page (/webhooks/ui/ → /webhooks/…), so every
// call goes to the origin that served the page. Caddy's admin endpoint
// checks browser requests: their Origin, or else their Referer, must be
// the endpoint itself. Same-origin fetch() sends a Referer (the page's
// Referrer-Policy is same-origin) and, for writes, an Origin, so these
// calls pass with Caddy's default settings. (Opening the page itself does
// not: see docs/management-page.md.)

const base = new URL('../', document.baseURI);

/** An error answer of the API: {"error": "...", "fields": {...}}. */
export class ApiError extends Error {
	constructor(status, message, fields) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.fields = fields || {};
	}
}

/**
 * Sends one request and returns the decoded answer (null for 204).
 * Throws ApiError for error answers and for network failures (status 0).
 */
export async function call(method, path, body) {
	const init = { method, headers: { Accept: 'application/json' }, cache: 'no-store' };
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let resp;
	try {
		resp = await fetch(new URL(path, base), init);
	} catch (err) {
		throw new ApiError(0, `Caddy's admin endpoint did not answer (${err.message}). Is Caddy running, and the tunnel to it open?`);
	}
	if (resp.status === 204) {
		return null;
	}
	const text = await resp.text();
	let data = null;
	try {
		data = text ? JSON.parse(text) : null;
	} catch {
		// not JSON: reported below with the raw text
	}
	if (!resp.ok) {
		const msg = (data && typeof data.error === 'string' && data.error) || text.trim() || `${resp.status} ${resp.statusText}`;
		throw new ApiError(resp.status, msg, data && data.fields);
	}
	return data;
}

/** Gets a text answer (the proposed rule file); errors as call's. */
export async function text(path) {
	let resp;
	try {
		resp = await fetch(new URL(path, base), { cache: 'no-store' });
	} catch (err) {
		throw new ApiError(0, `Caddy's admin endpoint did not answer (${err.message}).`);
	}
	const body = await resp.text();
	if (!resp.ok) {
		let msg = body.trim() || `${resp.status} ${resp.statusText}`;
		try {
			msg = JSON.parse(body).error || msg;
		} catch {
			// not JSON: the raw text
		}
		throw new ApiError(resp.status, msg);
	}
	return body;
}

const sub = id => `subscriptions/${encodeURIComponent(id)}`;

export const api = {
	subscriptions: () => call('GET', 'subscriptions'),
	subscription: id => call('GET', sub(id)),
	create: body => call('POST', 'subscriptions', body),
	update: (id, body) => call('PATCH', sub(id), body),
	remove: id => call('DELETE', sub(id)),
	rotate: (id, gracePeriod) => call('POST', `${sub(id)}/rotate-secret`, { grace_period: gracePeriod }),
	test: id => call('POST', `${sub(id)}/test`),
	deliveries: (id, status) => call('GET', `${sub(id)}/deliveries${status ? `?status=${encodeURIComponent(status)}` : ''}`),
	redeliver: id => call('POST', `deliveries/${encodeURIComponent(id)}/redeliver`),
	events: () => call('GET', 'events'),
	preview: (transform, events) => call('POST', 'transform/preview', { transform, events }),
	recent: event => call('GET', `events/recent${event ? `?event=${encodeURIComponent(event)}` : ''}`),
	stats: () => call('GET', 'stats'),
	learned: () => call('GET', 'learn'),
	proposal: () => text('learn/rules.yaml'),
	forget: () => call('DELETE', 'learn'),
};

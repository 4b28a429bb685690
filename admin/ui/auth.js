// The editor's authentication and client certificate fields: the
// subscription's auth and tls (docs/admin-api.md, authenticated targets).
//
// Their secrets (password, token, client secret, client key) are
// write-only: the API says only that they are set, so the form shows them
// empty, says they are kept when left so, and sends only those typed in.

const $ = id => document.getElementById(id);

// The API's field names and the id of the control that shows each one's
// error; editor.js adds them to its own.
export const controls = {
	auth: 'f-auth_type',
	'auth.type': 'f-auth_type',
	'auth.username': 'f-auth_username',
	'auth.password': 'f-auth_password',
	'auth.token': 'f-auth_token',
	'auth.token_url': 'f-auth_token_url',
	'auth.client_id': 'f-auth_client_id',
	'auth.client_secret': 'f-auth_client_secret',
	'auth.scopes': 'f-auth_scopes',
	tls: 'f-tls_client_certificate',
	'tls.client_certificate': 'f-tls_client_certificate',
	'tls.client_key': 'f-tls_client_key',
	'tls.ca': 'f-tls_ca',
};

// secrets are the write-only fields: their control, the API's field, and
// the view's flag that says the stored one is set.
const secrets = [
	{ id: 'f-auth_password', field: 'password', set: sub => sub.auth && sub.auth.password_set },
	{ id: 'f-auth_token', field: 'token', set: sub => sub.auth && sub.auth.token_set },
	{ id: 'f-auth_client_secret', field: 'client_secret', set: sub => sub.auth && sub.auth.client_secret_set },
	{ id: 'f-tls_client_key', field: 'client_key', set: sub => sub.tls && sub.tls.client_key_set },
];

/** setup shows the fields of the chosen type as it changes. */
export function setup() {
	$('f-auth_type').addEventListener('change', showType);
}

function showType() {
	const type = $('f-auth_type').value;
	for (const el of document.querySelectorAll('#f-credentials .auth-fields')) {
		el.hidden = el.dataset.auth !== type;
	}
}

/** fill shows sub's auth and tls (sub null: a new subscription). */
export function fill(sub) {
	const a = (sub && sub.auth) || {};
	const t = (sub && sub.tls) || {};
	$('f-auth_type').value = a.type || '';
	$('f-auth_username').value = a.username || '';
	$('f-auth_token_url').value = a.token_url || '';
	$('f-auth_client_id').value = a.client_id || '';
	$('f-auth_scopes').value = (a.scopes || []).join(' ');
	$('f-tls_client_certificate').value = t.client_certificate || '';
	$('f-tls_ca').value = t.ca || '';
	for (const s of secrets) {
		$(s.id).value = '';
		$(`${s.id}-hint`).textContent = sub && s.set(sub) ? 'Set. Leave empty to keep it; it is never shown.' : '';
	}
	$('f-credentials').open = !!(sub && (sub.auth || sub.tls));
	showType();
}

/** values returns the auth and tls the form holds, as the API takes them:
 * null for none, the secrets only when typed in. */
export function values() {
	const type = $('f-auth_type').value;
	let auth = null;
	if (type) {
		auth = { type };
		const given = (id, field, trim = true) => {
			const v = trim ? $(id).value.trim() : $(id).value;
			if (v) {
				auth[field] = v;
			}
		};
		if (type === 'basic') {
			auth.username = $('f-auth_username').value.trim();
			given('f-auth_password', 'password', false);
		} else if (type === 'bearer') {
			given('f-auth_token', 'token');
		} else {
			auth.token_url = $('f-auth_token_url').value.trim();
			auth.client_id = $('f-auth_client_id').value.trim();
			auth.scopes = $('f-auth_scopes').value.split(/[\s,]+/).filter(Boolean);
			given('f-auth_client_secret', 'client_secret', false);
		}
	}
	const tls = {
		client_certificate: $('f-tls_client_certificate').value.trim(),
		ca: $('f-tls_ca').value.trim(),
	};
	if ($('f-tls_client_key').value.trim()) {
		tls.client_key = $('f-tls_client_key').value;
	}
	const anyTLS = tls.client_certificate || tls.ca || tls.client_key;
	return { auth, tls: anyTLS ? tls : null };
}

/** changes returns what of v (from values) differs from sub's auth and
 * tls, to send on an edit: a secret typed in is a change. */
export function changes(v, sub) {
	const out = {};
	const was = sub.auth ? { ...sub.auth } : null;
	if (was) {
		delete was.password_set;
		delete was.token_set;
		delete was.client_secret_set;
		if (was.type === 'oauth2_client_credentials') {
			was.scopes = was.scopes || [];
		}
	}
	if (JSON.stringify(sorted(v.auth)) !== JSON.stringify(sorted(was))) {
		out.auth = v.auth;
	}
	const wasTLS = sub.tls ? { client_certificate: sub.tls.client_certificate || '', ca: sub.tls.ca || '' } : null;
	if (JSON.stringify(sorted(v.tls)) !== JSON.stringify(sorted(wasTLS))) {
		// Removing the certificate and CA removes tls; an empty certificate
		// removes the key with it.
		out.tls = v.tls || (sub.tls ? null : undefined);
	}
	if (out.tls === undefined) {
		delete out.tls;
	}
	return out;
}

// sorted returns o with its keys in order, for comparing as JSON.
function sorted(o) {
	return o && Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

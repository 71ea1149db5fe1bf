// A real OAuth2/OIDC server (panva's oidc-provider) standing in for the app's provider in the end-to-end tests and `make demo`.
//
// Environment:
//   OP_PORT           port on 127.0.0.1 (default 9000)
//   OP_CLIENT_ID      confidential client's id (default mm-app)
//   OP_CLIENT_SECRET  its secret (default mm-secret)
//   RP_REDIRECT       allowed redirect URIs, comma-separated: the emulator's complete_url (required)
//   OP_AT_TTL         access-token lifetime in seconds (default 3600); changeable at run time, see below
//   OP_ROTATE=1       rotate refresh tokens: each refresh returns a new one, and replaying an old one revokes the grant
//   OP_SCOPES         the scopes it knows, space-separated (others are dropped from a request); the app's own list
//
// Any login name and any password sign in (devInteractions); the account id is the login name.
// As the shipped provider does: `prompt=select_account` shows the account chooser (here: the sign-in page, even with a session),
// and a user may untick scopes on the consent screen (here: the scopes set by the control below are left out of
// every authorization request, so the grant and the token answer's `scope` lack them).
// Test controls, loopback only and never part of a real provider:
//   POST /_test/access-token-ttl?seconds=N   lifetime of access tokens issued from now on
//   GET  /_test/log                         {"requests": [{"method","path","status","grant_type"?}]}
//   POST /_test/log/clear
//   POST /_test/unticked-scopes?scopes=a%20b   scopes every user unticks from now on (empty: none)
import Provider from 'oidc-provider';

const env = process.env;

function requiredEnv(name) {
  if (!env[name]) {
    console.error(`provider.mjs: set ${name} (see the comment at the top of this file)`);
    process.exit(2);
  }
  return env[name];
}
const port = Number(env.OP_PORT || 9000);
const issuer = `http://127.0.0.1:${port}`;
let accessTokenTtl = Number(env.OP_AT_TTL || 3600);
let untickedScopes = new Set();
const requestLog = [];
const knownScopes = (env.OP_SCOPES || 'openid offline_access email profile calendar.read').split(/\s+/).filter(Boolean);

function displayName(accountId) {
  const first = accountId.split(/[^A-Za-z0-9]/)[0] || accountId;
  return `${first.charAt(0).toUpperCase()}${first.slice(1)} Test`;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: env.OP_CLIENT_ID || 'mm-app',
    client_secret: env.OP_CLIENT_SECRET || 'mm-secret',
    redirect_uris: requiredEnv('RP_REDIRECT')
      .split(',').map((uri) => uri.trim()).filter(Boolean),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  // Custom scopes must be listed or they are dropped; the app asks for all of these.
  scopes: knownScopes,
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: `${id}@example.test`, email_verified: true, name: displayName(id) }),
  }),
  cookies: { keys: ['e2e-cookie-key-not-a-secret'] },
  // Expired means expired: the default 15 s of tolerance would keep an access token alive past its TTL.
  clockTolerance: 0,
  // As the provider this stands in for does: the ID token of a code flow carries the granted claims (email, name), not just `sub`.
  conformIdTokenClaims: false,
  pkce: { required: () => false }, // the app always sends S256; it is verified whenever sent
  rotateRefreshToken: env.OP_ROTATE === '1',
  ttl: {
    AccessToken: () => accessTokenTtl,
    AuthorizationCode: 600,
    RefreshToken: 1209600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 1209600,
    Grant: 1209600,
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/_test/')) {
    if (ctx.method === 'POST' && ctx.path === '/_test/access-token-ttl') {
      const seconds = Number(ctx.query.seconds);
      if (!Number.isInteger(seconds) || seconds < 1) {
        ctx.status = 400;
        ctx.body = { error: 'seconds must be a positive integer' };
        return;
      }
      accessTokenTtl = seconds;
      ctx.body = { access_token_ttl: accessTokenTtl };
    } else if (ctx.method === 'POST' && ctx.path === '/_test/unticked-scopes') {
      untickedScopes = new Set(String(ctx.query.scopes || '').split(/\s+/).filter(Boolean));
      ctx.body = { unticked_scopes: [...untickedScopes] };
    } else if (ctx.method === 'GET' && ctx.path === '/_test/log') {
      ctx.body = { requests: requestLog };
    } else if (ctx.method === 'POST' && ctx.path === '/_test/log/clear') {
      requestLog.length = 0;
      ctx.body = { requests: requestLog };
    } else {
      ctx.status = 404;
      ctx.body = { error: 'unknown test control' };
    }
    return;
  }
  if (ctx.method === 'GET' && ctx.path === '/auth') {
    const query = { ...ctx.query };
    const prompts = String(query.prompt || '').split(' ').filter(Boolean);
    if (prompts.includes('select_account')) {
      query.prompt = [...new Set(prompts.map((p) => (p === 'select_account' ? 'login' : p)))].join(' ');
    }
    if (untickedScopes.size && query.scope) {
      query.scope = String(query.scope).split(' ').filter((s) => !untickedScopes.has(s)).join(' ');
    }
    ctx.query = query;
  }
  await next();
  const entry = { method: ctx.method, path: ctx.path, status: ctx.status };
  const grantType = ctx.oidc?.params?.grant_type;
  if (grantType) entry.grant_type = grantType;
  requestLog.push(entry);
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening ${issuer}`));

#!/usr/bin/env bash
# Lighthouse scores of every page a shopper sees, signed out and signed in,
# against a running shop (start `make run` first). A shopper is registered
# through the JSON API, places an order and fills the cart again, and
# Lighthouse carries the shopper's session cookie on the signed-in pages.
# Prints each page's four scores and, for a score under LIGHTHOUSE_MIN
# (default 100), the audits that cost it; exits 1 if any page is under it.
#
#   tools/lighthouse/lighthouse.sh [base URL, default http://127.0.0.1:8080]
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-http://127.0.0.1:8080}
min=${LIGHTHOUSE_MIN:-100}
out=bin/lighthouse
lighthouse=$out/node_modules/.bin/lighthouse
[ -x "$lighthouse" ] || npm install --silent --no-audit --no-fund --prefix "$out" lighthouse@12 >/dev/null

api() { # method path [body] [token]: prints the answer, fails on a non-2xx
  curl -sS --fail-with-body -X "$1" "$base$2" -H 'Content-Type: application/json' \
    ${4:+-H "Authorization: Bearer $4"} -H "Idempotency-Key: lighthouse-$RANDOM$RANDOM" ${3:+-d "$3"}
}
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

email="lighthouse-$(date +%s)-$RANDOM@example.com" password="lighthouse $RANDOM $RANDOM"
api POST /api/identity/register "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Lee Lighthouse\"}" >/dev/null
token=$(api POST /api/identity/login "{\"email\":\"$email\",\"password\":\"$password\"}" | field token)
api PUT /api/basket/items/headlamp '{"quantity":1}' "$token" >/dev/null
order=$(api POST /api/basket/checkout '{"shippingAddress":{"name":"Lee Lighthouse","street":"1 Main St","city":"Lyon","postalCode":"69001","country":"FR"},"card":{"number":"4242 4242 4242 4242","expiry":"12/30","cvc":"123"}}' "$token" | field orderId)
api PUT /api/basket/items/chefs-knife.24-cm '{"quantity":1}' "$token" >/dev/null

failed=0
score() { # label path [cookie]
  local label=$1 path=$2 cookie=${3:-} headers=()
  [ -n "$cookie" ] && headers=(--extra-headers "{\"Cookie\":\"identity_session=$cookie\"}")
  # Lighthouse itself sometimes stops with NO_NAVSTART (its trace
  # recording), not with a score: one more try.
  local try
  for try in 1 2; do
    CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium} "$lighthouse" "$base$path" --quiet "${headers[@]}" \
      --chrome-flags="--headless=new --no-sandbox --disable-gpu" \
      --only-categories=performance,accessibility,best-practices,seo \
      --output=json --output-path="$out/report.json" && break
    [ $try = 2 ] && { echo "$label: Lighthouse failed twice"; failed=1; return; }
  done
  node -e '
    const [label, min] = [process.argv[1], Number(process.argv[2])];
    const r = require(process.argv[3]);
    const cats = Object.values(r.categories);
    console.log(label.padEnd(34), cats.map(c => c.title + " " + Math.round(c.score * 100)).join(", "));
    let low = false;
    for (const c of cats) {
      if (Math.round(c.score * 100) >= min) continue;
      low = true;
      for (const ref of c.auditRefs) {
        const a = r.audits[ref.id];
        if (ref.weight > 0 && a.score !== null && a.score < 1) console.log("    " + c.title + ": " + a.id + " (" + a.title + ")");
      }
    }
    process.exit(low ? 1 : 0);' "$label" "$min" "$PWD/$out/report.json" || failed=1
}

score "home" /
score "product" /products/chefs-knife
score "cart (signed out)" /cart
score "sign in" /sign-in
score "register" /register
score "home (signed in)" / "$token"
score "cart (signed in)" /cart "$token"
score "checkout" /checkout "$token"
score "orders" /orders "$token"
score "an order's status" "/orders/$order" "$token"
exit $failed

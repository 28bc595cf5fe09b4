// Rialto hosted checkout. Plain script, no dependencies, no third-party requests: it talks only
// to /checkout/<token>/… on this origin. All text is in STRINGS (en, de).
'use strict';
(function () {
  const STRINGS = {
    en: {
      pay: 'Pay', total: 'Total', ways: 'How would you like to pay?', wallet: 'Browser wallet',
      wallet_pay: 'Pay with wallet', deposit: 'Send from any wallet', deposit_show: 'Show deposit address and QR code',
      send_exactly: 'Send exactly', open_wallet: 'Open in wallet app', solana_scan: 'Scan the code with a Solana wallet, or open the link on this device.', other: 'Pay with another token or chain',
      get_quotes: 'Show offers', pay_offer: 'Pay {amount} on {chain}', offer_line: 'You send {amount} on {chain} · fee {fee} · about {s} s',
      exchange: 'Exchange account', exchange_intro: 'Pay from your exchange account: if needed, Rialto buys the amount there and withdraws it to the merchant. Use an API key that may trade and withdraw; it is erased after this payment.',
      venue: 'Exchange', api_key: 'API key', api_secret: 'API secret', withdraw_key: 'Withdrawal key name (Kraken only)', exchange_pay: 'Pay from exchange account',
      step_exchange: 'Asking your exchange…', sandbox: 'sandbox',
      step_accept: 'Locking the offer…', loading_quotes: 'Finding offers…', back: 'Back to the shop', you_send: 'You send {amount} {asset} on {chain}',
      expires_in: 'Expires in {time}', fee: 'fee', takes: 'about {s} s', no_quotes: 'No other way to pay is on offer right now.',
      no_wallet: 'No browser wallet found. Use the deposit address instead.',
      step_connect: 'Connecting your wallet…', step_chain: 'Switching network…', step_sign: 'Confirm in your wallet…',
      step_send: 'Sending…', step_proof: 'Sign the payment proof in your wallet…', step_wait: 'Waiting for the network…',
      processing_t: 'Payment received', processing: 'Your payment is being confirmed. You can keep this page open.',
      review_t: 'Payment under review', review: 'Your payment arrived and is being reviewed. The merchant will be in touch.',
      success_t: 'Payment complete', success: 'Thank you. Returning you to the shop…', continue: 'Continue',
      expired_t: 'This checkout has expired', expired: 'The time to pay has run out. Nothing was charged.',
      canceled_t: 'This checkout was canceled', canceled: 'This payment is no longer possible. Nothing was charged.',
      failed_t: 'Payment failed', failed: 'The payment could not be completed. Any funds received are returned to you.',
      notfound_t: 'Checkout not found', notfound: 'This link is wrong or no longer exists.',
      error: 'Something went wrong: {msg}', qty: '{n} ×',
      payer_title: 'Who is paying?', payer_intro: 'The law on crypto transfers (the travel rule) requires the payer\'s details for this payment. They are stored encrypted and used only for the compliance checks of this payment.',
      payer_kind: 'I pay as', payer_person: 'a person', payer_company: 'a company', given_name: 'First name', family_name: 'Last name',
      date_of_birth: 'Date of birth', place_of_birth: 'Place of birth (town)', legal_name: 'Company legal name', lei: 'LEI (Legal Entity Identifier)',
      payer_country: 'Country (two letters, e.g. DE)', payer_continue: 'Continue to payment', payer_saving: 'Saving…'
    },
    de: {
      pay: 'Bezahlen', total: 'Gesamtbetrag', ways: 'Wie möchten Sie bezahlen?', wallet: 'Browser-Wallet',
      wallet_pay: 'Mit Wallet bezahlen', deposit: 'Von einer beliebigen Wallet senden', deposit_show: 'Einzahlungsadresse und QR-Code anzeigen',
      send_exactly: 'Senden Sie genau', open_wallet: 'In der Wallet-App öffnen', solana_scan: 'Scannen Sie den Code mit einer Solana-Wallet oder öffnen Sie den Link auf diesem Gerät.', other: 'Mit einem anderen Token oder einer anderen Chain bezahlen',
      get_quotes: 'Angebote anzeigen', pay_offer: '{amount} auf {chain} bezahlen', offer_line: 'Sie senden {amount} auf {chain} · Gebühr {fee} · ca. {s} s',
      exchange: 'Börsenkonto', exchange_intro: 'Bezahlen Sie von Ihrem Börsenkonto: Bei Bedarf kauft Rialto den Betrag dort und hebt ihn an den Händler ab. Verwenden Sie einen API-Schlüssel mit Handels- und Auszahlungsrechten; er wird nach dieser Zahlung gelöscht.',
      venue: 'Börse', api_key: 'API-Schlüssel', api_secret: 'API-Geheimnis', withdraw_key: 'Name des Auszahlungsschlüssels (nur Kraken)', exchange_pay: 'Vom Börsenkonto bezahlen',
      step_exchange: 'Ihre Börse wird angefragt…', sandbox: 'Sandbox',
      step_accept: 'Angebot wird festgelegt…', loading_quotes: 'Angebote werden gesucht…', back: 'Zurück zum Shop', you_send: 'Sie senden {amount} {asset} auf {chain}',
      expires_in: 'Läuft ab in {time}', fee: 'Gebühr', takes: 'ca. {s} s', no_quotes: 'Derzeit gibt es keine andere Zahlungsmöglichkeit.',
      no_wallet: 'Keine Browser-Wallet gefunden. Nutzen Sie stattdessen die Einzahlungsadresse.',
      step_connect: 'Wallet wird verbunden…', step_chain: 'Netzwerk wird gewechselt…', step_sign: 'Bitte in der Wallet bestätigen…',
      step_send: 'Wird gesendet…', step_proof: 'Bitte den Zahlungsnachweis in der Wallet signieren…', step_wait: 'Warten auf das Netzwerk…',
      processing_t: 'Zahlung eingegangen', processing: 'Ihre Zahlung wird bestätigt. Sie können diese Seite geöffnet lassen.',
      review_t: 'Zahlung wird geprüft', review: 'Ihre Zahlung ist eingegangen und wird geprüft. Der Händler meldet sich bei Ihnen.',
      success_t: 'Zahlung abgeschlossen', success: 'Vielen Dank. Sie werden zum Shop zurückgeleitet…', continue: 'Weiter',
      expired_t: 'Dieser Bezahlvorgang ist abgelaufen', expired: 'Die Zeit zum Bezahlen ist abgelaufen. Es wurde nichts belastet.',
      canceled_t: 'Dieser Bezahlvorgang wurde abgebrochen', canceled: 'Diese Zahlung ist nicht mehr möglich. Es wurde nichts belastet.',
      failed_t: 'Zahlung fehlgeschlagen', failed: 'Die Zahlung konnte nicht abgeschlossen werden. Eingegangene Beträge werden erstattet.',
      notfound_t: 'Bezahlvorgang nicht gefunden', notfound: 'Dieser Link ist falsch oder existiert nicht mehr.',
      error: 'Etwas ist schiefgelaufen: {msg}', qty: '{n} ×',
      payer_title: 'Wer bezahlt?', payer_intro: 'Das Gesetz über Kryptotransfers (Travel Rule) verlangt für diese Zahlung Angaben zum Zahler. Sie werden verschlüsselt gespeichert und nur für die Compliance-Prüfung dieser Zahlung verwendet.',
      payer_kind: 'Ich zahle als', payer_person: 'Privatperson', payer_company: 'Unternehmen', given_name: 'Vorname', family_name: 'Nachname',
      date_of_birth: 'Geburtsdatum', place_of_birth: 'Geburtsort', legal_name: 'Firmenname (rechtlich)', lei: 'LEI (Legal Entity Identifier)',
      payer_country: 'Land (zwei Buchstaben, z. B. DE)', payer_continue: 'Weiter zur Zahlung', payer_saving: 'Wird gespeichert…'
    }
  };
  const PROCESSING = ['funds_received', 'converting', 'settling'];
  const token = location.pathname.split('/')[2] || '';
  const base = '/checkout/' + encodeURIComponent(token);
  const $ = (id) => document.getElementById(id);
  let view = null, lang = 'en', offset = 0, timer = null, poller = null, redirected = false;

  const t = (key, vars) => String(STRINGS[lang][key] || key)
    .replace(/\{(\w+)\}/g, (_, k) => (vars && k in vars ? vars[k] : ''));
  const money = (amount, code) => (lang === 'de' ? amount.replace('.', ',') : amount) + ' ' + code.toUpperCase();

  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' }, credentials: 'omit' };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    const res = await fetch(base + path, init);
    let json = null;
    try { json = await res.json(); } catch (_) { json = null; }
    return { ok: res.ok, status: res.status, body: json };
  }

  function say(text, error) {
    const el = $('status');
    el.textContent = text;
    el.className = error ? 'status error' : 'status';
  }

  function translate() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
    document.title = t('pay') + (view && view.merchant_name ? ' · ' + view.merchant_name : '');
  }

  function tick() {
    if (!view) return;
    const left = Math.max(0, Math.floor(view.expires_at - (Date.now() / 1000 + offset)));
    const m = Math.floor(left / 60), s = String(left % 60).padStart(2, '0');
    $('countdown').textContent = t('expires_in', { time: m + ':' + s });
    if (left === 0) refresh();
  }

  function renderSummary(v) {
    $('merchant').textContent = v.merchant_name;
    $('amount').textContent = money(v.amount, v.currency);
    $('pay-line').textContent = t('you_send', { amount: money(v.pay_amount, v.pay_asset).replace(/ \S+$/, ''), asset: v.pay_asset.toUpperCase(), chain: v.chain_alias });
    const items = $('items');
    items.textContent = '';
    v.line_items.forEach((li) => {
      const row = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = t('qty', { n: li.quantity }) + ' ' + li.name;
      const price = document.createElement('span');
      price.textContent = money(li.unit_amount, v.currency);
      row.append(name, price);
      items.append(row);
    });
    $('back').href = v.cancel_url;
  }

  function showFinal(kind, link, linkText) {
    document.body.dataset.state = kind;
    document.querySelector('footer').hidden = true;
    $('screen-open').hidden = true;
    $('screen-payer').hidden = true;
    $('screen-final').hidden = false;
    $('countdown').hidden = true;
    $('final-title').textContent = t(kind + '_t');
    $('final-text').textContent = t(kind);
    const a = $('final-link');
    a.hidden = !link;
    if (link) { a.href = link; a.textContent = linkText; }
  }

  function render(v) {
    renderSummary(v);
    if (v.status === 'complete') {
      showFinal('success', v.success_url, t('continue'));
      if (!redirected) { redirected = true; setTimeout(() => location.assign(v.success_url), 3000); }
      return true;
    }
    if (v.status === 'expired' || v.status === 'canceled') { showFinal(v.status, v.cancel_url, t('back')); return true; }
    if (v.payment_status === 'failed' || v.payment_status === 'blocked') { showFinal('failed', v.cancel_url, t('back')); return true; }
    if (v.payment_status === 'in_review') { showFinal('review', null); return false; }
    if (PROCESSING.includes(v.payment_status)) { showFinal('processing', null); return false; }
    $('screen-final').hidden = true;
    // The merchant's rules need the payer's details first (the travel rule): no way to pay
    // is shown until they are given.
    const pd = v.payer_details;
    if (pd && pd.travel_rule_required && !pd.travel_rule) {
      document.body.dataset.state = 'payer';
      $('screen-payer').hidden = false;
      $('screen-open').hidden = true;
      return false;
    }
    document.body.dataset.state = 'open';
    $('screen-payer').hidden = true;
    $('screen-open').hidden = false;
    $('m-wallet').hidden = !(v.direct && v.evm_chain_id);
    $('m-deposit').hidden = !(v.direct && v.evm_chain_id);
    // The router routes between EVM chains only, and the page's wallet is an EIP-1193 one.
    $('m-quotes').hidden = !(v.direct && v.evm_chain_id);
    // Solana Pay, for an intent settling on a Solana chain: the server writes the URL and
    // draws its QR.
    renderExchange(v);
    $('m-solana').hidden = !v.solana_pay_url;
    if (v.solana_pay_url && $('solana-uri').getAttribute('href') !== v.solana_pay_url) {
      $('solana-uri').href = v.solana_pay_url;
      $('solana-url').textContent = v.solana_pay_url;
      $('solana-qr').src = base + '/solana_pay_qr.svg';
      $('solana-qr').alt = 'QR: ' + v.solana_pay_url;
    }
    return false;
  }

  const VENUE_NAMES = { binance: 'Binance', kraken: 'Kraken', coinbase: 'Coinbase' };

  function renderExchange(v) {
    const select = $('x-venue');
    $('m-exchange').hidden = !v.exchange_venues.length;
    if (select.options.length === v.exchange_venues.length) return;
    select.textContent = '';
    v.exchange_venues.forEach((venue) => {
      const option = document.createElement('option');
      option.value = venue;
      option.textContent = (VENUE_NAMES[venue] || venue) + (v.sandbox ? ' (' + t('sandbox') + ')' : '');
      select.append(option);
    });
    $('x-withdraw').hidden = select.value !== 'kraken';
  }

  async function payFromExchange(event) {
    event.preventDefault();
    const button = $('exchange-pay');
    button.disabled = true;
    say(t('step_exchange'));
    const body = { venue: $('x-venue').value, api_key: $('x-key').value.trim(), api_secret: $('x-secret').value };
    if (body.venue === 'kraken' && $('x-withdraw-key').value.trim()) body.withdraw_key = $('x-withdraw-key').value.trim();
    const r = await api('POST', '/exchange_accounts', body);
    // The secret leaves the page once: it is not kept in the form after the request.
    $('x-secret').value = '';
    button.disabled = false;
    if (!r.ok) { say(t('error', { msg: failure(r).message }), true); return; }
    say(t('step_wait'));
    refresh();
  }

  function payerKind() {
    const company = document.querySelector('input[name="kind"]:checked').value === 'company';
    $('p-person').hidden = company;
    $('p-company').hidden = !company;
    return company ? 'company' : 'person';
  }

  async function givePayerDetails(event) {
    event.preventDefault();
    const kind = payerKind(), v = (id) => $(id).value.trim();
    const body = kind === 'company'
      ? { kind, legal_name: v('p-legal'), lei: v('p-lei'), country: v('p-country') }
      : { kind, given_name: v('p-given'), family_name: v('p-family'), date_of_birth: v('p-dob'), place_of_birth: v('p-pob'), country: v('p-country') };
    const button = $('payer-submit'), status = $('payer-status');
    button.disabled = true;
    status.className = 'status';
    status.textContent = t('payer_saving');
    const r = await api('POST', '/payer_details', body);
    button.disabled = false;
    if (!r.ok) { status.className = 'status error'; status.textContent = t('error', { msg: failure(r).message }); return; }
    status.textContent = '';
    refresh();
  }

  async function refresh() {
    const r = await api('GET', '/session');
    if (!r.ok) {
      if (r.status === 404) { document.body.dataset.state = 'notfound'; showFinal('notfound', null); stop(); }
      return;
    }
    const first = !view;
    view = r.body;
    offset = view.now - Date.now() / 1000;
    if (first) { lang = STRINGS[view.locale] ? view.locale : 'en'; translate(); }
    if (render(view)) stop();
  }

  function stop() { clearInterval(timer); clearInterval(poller); }

  const hex = (text) => '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');
  const word = (h) => h.replace(/^0x/, '').toLowerCase().padStart(64, '0');
  const failure = (r) => (r.body && r.body.error ? r.body.error : { code: 'http_' + r.status, message: 'HTTP ' + r.status });

  async function payByAuthorization(eth, from, req) {
    say(t('step_sign'));
    const typed = {
      types: Object.assign({ EIP712Domain: [{ name: 'name', type: 'string' }, { name: 'version', type: 'string' }, { name: 'chainId', type: 'uint256' }, { name: 'verifyingContract', type: 'address' }] }, req.types),
      domain: req.domain, primaryType: req.primary_type, message: Object.assign({ from }, req.message)
    };
    const signature = await eth.request({ method: 'eth_signTypedData_v4', params: [from, JSON.stringify(typed)] });
    say(t('step_send'));
    const m = req.message;
    const r = await api('POST', '/authorizations', { from, value: m.value, valid_after: m.validAfter, valid_before: m.validBefore, nonce: m.nonce, signature, chain_id: view.evm_chain_id });
    if (!r.ok) throw failure(r);
  }

  async function payByTransfer(eth, from) {
    await transferAndReport(eth, from, view.token_contract, view.pay_to, view.pay_amount_units, view.payment_intent, '/transactions');
  }

  async function payWithWallet() {
    const eth = window.ethereum;
    if (!eth) { say(t('no_wallet'), true); return; }
    const button = $('wallet-pay');
    button.disabled = true;
    try {
      say(t('step_connect'));
      const [from] = await eth.request({ method: 'eth_requestAccounts' });
      say(t('step_chain'));
      await eth.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x' + view.evm_chain_id.toString(16) }] });
      const req = await api('GET', '/authorization_request');
      if (req.ok) await payByAuthorization(eth, from, req.body);
      else if (req.status === 503) await payByTransfer(eth, from); // token takes no EIP-3009 here
      else throw failure(req);
      say(t('step_wait'));
      refresh();
    } catch (e) {
      say(t('error', { msg: (e && e.message) || String(e) }), true);
    } finally {
      button.disabled = false;
    }
  }

  async function showDeposit() {
    const r = await api('POST', '/deposit_address');
    if (!r.ok) { say(t('error', { msg: failure(r).message }), true); return; }
    const d = r.body;
    $('qr').src = base + '/deposit_qr.svg';
    $('qr').alt = 'QR: ' + d.uri;
    $('dep-amount').textContent = money(d.amount, d.asset);
    $('dep-address').textContent = d.address;
    $('dep-uri').href = d.uri;
    $('deposit').hidden = false;
    $('deposit-show').hidden = true;
  }

  // Sends `units` of `token` to `to` from the wallet and reports it with the payer's proof,
  // retrying while the chain has not mined it yet.
  async function transferAndReport(eth, from, token, to, units, proofId, path) {
    say(t('step_send'));
    const data = '0xa9059cbb' + word(to) + word(BigInt(units).toString(16));
    const txHash = await eth.request({ method: 'eth_sendTransaction', params: [{ from, to: token, data }] });
    say(t('step_proof'));
    const message = 'Rialto: fund ' + proofId + ' with ' + txHash.toLowerCase();
    const signature = await eth.request({ method: 'personal_sign', params: [hex(message), from] });
    say(t('step_wait'));
    for (let i = 0; i < 40; i++) {
      const r = await api('POST', path, { tx_hash: txHash, signature });
      if (r.ok) return;
      const code = failure(r).code;
      if (code !== 'transaction_not_found' && code !== 'chain_unavailable' && r.status !== 503) throw failure(r);
      await new Promise((ok) => setTimeout(ok, 3000));
    }
    throw { message: 'timeout' };
  }

  async function payQuote(q, button) {
    const eth = window.ethereum;
    if (!eth) { say(t('no_wallet'), true); return; }
    document.querySelectorAll('#quotes button').forEach((b) => { b.disabled = true; });
    try {
      say(t('step_connect'));
      const [from] = await eth.request({ method: 'eth_requestAccounts' });
      say(t('step_accept'));
      const r = await api('POST', '/quotes/' + encodeURIComponent(q.id) + '/accept', { payer_address: from });
      if (!r.ok) throw failure(r);
      const exec = r.body.execution, to = exec.pay_to;
      say(t('step_chain'));
      await eth.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x' + to.evm_chain_id.toString(16) }] });
      await transferAndReport(eth, from, to.token, to.address, to.amount_units, exec.id, '/route_executions/' + encodeURIComponent(exec.id) + '/fund');
      say(t('step_wait'));
      refresh();
    } catch (e) {
      say(t('error', { msg: (e && e.message) || String(e) }), true);
      document.querySelectorAll('#quotes button').forEach((b) => { b.disabled = false; });
    }
    return button;
  }

  async function getQuotes() {
    const list = $('quotes');
    list.textContent = '';
    say(t('loading_quotes'));
    const r = await api('POST', '/funding_quotes');
    if (!r.ok) { say(t('error', { msg: failure(r).message }), true); return; }
    say(r.body.data.length ? '' : t('no_quotes'));
    r.body.data.forEach((q) => {
      const li = document.createElement('li');
      li.dataset.quote = q.id;
      const amount = money(q.payer_amount, q.source.asset);
      const text = document.createElement('span');
      text.textContent = t('offer_line', { amount, chain: q.source_chain, fee: money(q.total_fee_usd, 'usd'), s: q.expected_seconds });
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = t('pay_offer', { amount, chain: q.source_chain });
      button.addEventListener('click', () => payQuote(q, button));
      li.append(text, button);
      list.append(li);
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('wallet-pay').addEventListener('click', payWithWallet);
    $('deposit-show').addEventListener('click', showDeposit);
    $('quotes-show').addEventListener('click', getQuotes);
    $('exchange-form').addEventListener('submit', payFromExchange);
    $('payer-form').addEventListener('submit', givePayerDetails);
    document.querySelectorAll('input[name="kind"]').forEach((r) => r.addEventListener('change', payerKind));
    $('x-venue').addEventListener('change', () => { $('x-withdraw').hidden = $('x-venue').value !== 'kraken'; });
    translate();
    refresh().then(() => {
      document.body.dataset.ready = '1';
      performance.mark('checkout-ready');
      if (view && !['success', 'expired', 'canceled', 'failed'].includes(document.body.dataset.state)) {
        timer = setInterval(tick, 1000);
        poller = setInterval(refresh, 2000);
        tick();
      }
    });
  });
})();

// Shows the instance's backend health on the placeholder page.
(async () => {
  const el = document.getElementById('health');
  try {
    const res = await fetch('/health', { cache: 'no-store' });
    const body = await res.json();
    const parts = ['database', 'storage', 'queue'].map(
      (c) => `${c}: ${body[c].backend} ${body[c].status === 'ok' ? '✓' : '✗'}`
    );
    el.textContent = `Version ${body.version} — ${parts.join(', ')}`;
    el.className = body.status === 'ok' ? 'ok' : 'error';
  } catch {
    el.textContent = 'Health check unavailable.';
    el.className = 'error';
  }
})();

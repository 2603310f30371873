/// The gallery's page frame (HTML head, styles) and its curation script: the markup every page shares.
import Foundation

extension Gallery {
    static func errorPage(_ message: String) -> String {
        page(title: "facet: error",
             body: "<h1>Cannot show that</h1><p class=\"error\">\(HTML.escape(message))</p><p><a "
                   + "href=\"/faces\">gallery</a></p>", csrf: "", script: "")
    }

    static func page(title: String, body: String, csrf: String, script: String) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title))</title>
        <meta name="csrf-token" content="\(HTML.escape(csrf))">
        <style>
        body{font:14px system-ui,sans-serif;margin:1em;background:#f6f6f6;color:#222}
        h1{font-size:1.3em;margin:.2em 0}.controls label{margin-right:.8em}nav{margin:.5em 0}nav a{margin-right:1em}
        form.inline{display:inline}#grid{display:flex;flex-wrap:wrap;gap:6px}
        figure.face{margin:0;padding:4px;background:#fff;border:2px solid \
        #ddd;border-radius:4px;width:100px;text-align:center}
        figure.face:focus{outline:3px solid #3b82f6}figure.face.rejected{opacity:.45;border-color:#c33}
        figure.face img{display:block;width:96px;height:96px;object-fit:cover}figcaption{font-size:11px;color:#555}
        figure.face button{font-size:11px;width:96px}.facepage{display:flex;gap:1.5em;align-items:flex-start}
        .landmarks circle{fill:#0f0;stroke:#000;stroke-width:.2}th{text-align:left;padding-right:1em}.error{color:#b00}
        \(maskStyle)
        \(predictedMaskStyle)
        </style></head><body>\(body)<script>\(script)</script></body></html>
        """
    }

    /// Click and keyboard curation without reloading: POSTs with the CSRF token, then updates the tile
    /// and the counts from the JSON answer. Without JavaScript the forms post and redirect back.
    static let galleryScript = """
    const token = document.querySelector('meta[name="csrf-token"]').content;
    async function toggle(fig) {
      const form = fig.querySelector('form'); const status = form.querySelector('input[name="status"]').value;
      const r = await fetch(form.action, {method: 'POST', headers: {'Accept': 'application/json', \
    'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'csrf=' + encodeURIComponent(token) + '&status=' + status});
      if (!r.ok) { alert('facet: ' + r.status + ' ' + (await r.text()).replace(/<[^>]*>/g, ' ').trim().slice(0, \
    200)); return; }
      const j = await r.json();
      fig.classList.remove('kept', 'rejected'); fig.classList.add(j.status);
      form.querySelector('input[name="status"]').value = j.status === 'kept' ? 'rejected' : 'kept';
      form.querySelector('button').textContent = j.status === 'kept' ? 'reject' : 'restore';
      document.getElementById('kept').textContent = j.kept; document.getElementById('rejected').textContent \
    = j.rejected;
      fig.dataset.status = j.status;
    }
    document.querySelectorAll('figure.face form').forEach(f => f.addEventListener('submit', \
    ev => { ev.preventDefault(); toggle(f.closest('figure')); }));
    document.addEventListener('keydown', ev => {
      const figs = Array.from(document.querySelectorAll('figure.face')); const i = figs.indexOf(document.activeElement);
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { (figs[i + 1] || figs[0]).focus(); ev.preventDefault(); }
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { (figs[i - 1] || figs[figs.length - 1]).focus(); \
    ev.preventDefault(); }
      else if (i >= 0 && (ev.key === 'x' || ev.key === 'Delete') && figs[i].classList.contains('kept')) toggle(figs[i]);
      else if (i >= 0 && ev.key === 'r' && figs[i].classList.contains('rejected')) toggle(figs[i]);
      else if (i >= 0 && ev.key === 'Enter') location.href = '/face/' + figs[i].dataset.id;
    });
    """
}

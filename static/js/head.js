// What must run before the page renders (loaded in <head> without defer; the Content-Security-Policy allows no
// inline script).
(function () {
  "use strict";
  // The stylesheet collapses the top bar and turns the catalog tree into a drawer on small screens only when
  // static/js/layout.js is there to open them: without JavaScript both stay on the page.
  document.documentElement.classList.add("js");

  // MLflow UI links (`http://host/#/experiments/1/runs/<id>`, `#/models/<name>/versions/<n>`), as the MLflow
  // client prints them, land on our page for the same object. The fragment never reaches the server, so it is
  // handed to the resolver named by data-resolver (/mlflow-link/, explorer/views/mlflow_links.py), which
  // redirects. Only fragments starting with "#/" are MLflow's: "#main" and the like stay.
  var resolver = document.currentScript.getAttribute("data-resolver");
  function follow() {
    var hash = window.location.hash;
    if (resolver && hash.length > 2 && hash.charAt(1) === "/") {
      window.location.replace(resolver + "?fragment=" + encodeURIComponent(hash.slice(1)));
    }
  }
  follow();
  window.addEventListener("hashchange", follow);
})();

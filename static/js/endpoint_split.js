// The traffic split editor of a serving endpoint's page: shows the sum of the percentages as they are typed and
// refuses to submit unless it is 100 (the server checks the same; this says so before saving).
(function () {
  "use strict";
  function setUp(form) {
    var inputs = form.querySelectorAll("input[data-traffic]");
    var total = form.querySelector("[data-traffic-total]");
    function sum() {
      var value = 0;
      inputs.forEach(function (input) { value += parseInt(input.value, 10) || 0; });
      return value;
    }
    function show() {
      var value = sum();
      total.textContent = value === 100 ? "Total: 100 %." : "Total: " + value + " %: the percentages must sum to 100.";
      total.classList.toggle("error", value !== 100);
    }
    inputs.forEach(function (input) { input.addEventListener("input", show); });
    form.addEventListener("submit", function (event) {
      if (sum() !== 100) { event.preventDefault(); show(); total.focus(); }
    });
    show();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-traffic-split]").forEach(setUp);
  });
})();

// Small progressive enhancements. Everything works without this file.
// Behaviour hangs off data- attributes so it can be found with grep.
(function () {
  "use strict";
})();

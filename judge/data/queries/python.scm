; Functions of a Python file: every def (async included; decorators are not part).
(function_definition
  name: (identifier) @name
  body: (block) @body) @function

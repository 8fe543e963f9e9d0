; Functions of a Java file: methods and constructors, with the class around them.
(method_declaration
  name: (identifier) @name
  body: (block) @body) @function

(constructor_declaration
  name: (identifier) @name
  body: (constructor_body) @body) @function

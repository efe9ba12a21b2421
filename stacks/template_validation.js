'use strict';
// The node side of stacks/template_validation.py: CDK's own CloudFormationValidatePlugin (the
// code `cdk synth` runs in-process when the App's builtinCloudFormationValidation is on), loaded
// from the repository's node_modules/aws-cdk-lib, which the Python side has checked is the
// version the app runs. Its rule engine is built as soon as this process starts, on another
// core than the app's jsii process, which builds the constructs meanwhile.
//
// One JSON object per line: this process first writes {name, version, ruleIds} (or {error}),
// then answers each {stackTemplates} it reads with {report}, what the plugin's validate()
// returned (or {error}). It ends when its input closes.
const path = require('path');
const readline = require('readline');

function send(message) {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function errorText(error) {
  return String((error && error.stack) || error);
}

let plugin;
try {
  const { CloudFormationValidatePlugin } = require(path.join(process.argv[2], 'node_modules', 'aws-cdk-lib'));
  plugin = new CloudFormationValidatePlugin();
  send({ name: CloudFormationValidatePlugin.PLUGIN_NAME, version: plugin.version, ruleIds: plugin.ruleIds });
} catch (error) {
  send({ error: `aws-cdk-lib's CloudFormationValidatePlugin did not start: ${errorText(error)}` });
  process.exit(1);
}

readline.createInterface({ input: process.stdin, terminal: false }).on('line', (line) => {
  try {
    const { stackTemplates } = JSON.parse(line);
    send({ report: plugin.validate({ stackTemplates, templatePaths: stackTemplates.map((stack) => stack.templatePath) }) });
  } catch (error) {
    send({ error: errorText(error) });
  }
});

/**
 * Winnow: Choose Model… — the server's `winnow.models.list` in a quick pick; a hub model
 * not on disk is downloaded first (`winnow.models.download`, its progress in a cancellable
 * notification); then `winnow.generatorModel` is set, and the server loads the model
 * (src/settings.ts: a change of it reaches the server, which reloads in place).
 */
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient } from 'vscode-languageclient/node';

import { MODEL_COMMANDS } from './constants';
import type { ServerController } from './controller';
import { ACTIONS } from './messages';
import {
  hubSpecProblem,
  modelPickEntries,
  needsDownload,
  parseDownloadResult,
  parseModelList,
  specName,
  type ModelList,
  type ModelPickAction,
} from './models';
import { describeError } from './python';

type PickItem = vscode.QuickPickItem & { readonly action?: ModelPickAction };

/** The quick pick's items, from src/models.ts's entries. */
function pickItems(list: ModelList): PickItem[] {
  return modelPickEntries(list).map((entry) =>
    entry.separator
      ? { label: entry.label, kind: vscode.QuickPickItemKind.Separator }
      : {
          label: entry.label,
          description: entry.description,
          ...(entry.detail ? { detail: entry.detail } : {}),
          action: entry.action,
        },
  );
}

/** What the user picked, as a spec, whether it downloads first, and its name. */
async function specOf(action: ModelPickAction): Promise<{ spec: string; download: boolean; label: string } | undefined> {
  if (action.kind === 'option') {
    return { spec: action.option.spec, download: needsDownload(action.option), label: action.option.label };
  }
  if (action.kind === 'browse') {
    const files = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Use This Model',
      title: 'Winnow: a GGUF model file',
      filters: { 'GGUF models': ['gguf'] },
    });
    const file = files?.[0];
    return file ? { spec: file.fsPath, download: false, label: specName(file.fsPath) } : undefined;
  }
  const typed = await vscode.window.showInputBox({
    title: 'Winnow: a model on the Hugging Face Hub',
    prompt: 'A GGUF file of a Hugging Face repository; Winnow downloads it into the Hugging Face cache.',
    placeHolder: 'hf:OWNER/REPO/FILE.gguf',
    validateInput: hubSpecProblem,
  });
  const spec = typed?.trim();
  return spec ? { spec, download: true, label: specName(spec) } : undefined;
}

/** Set `winnow.generatorModel` where it takes effect: the workspace when the workspace sets it, else the user's settings. */
async function setGeneratorModel(spec: string): Promise<string> {
  const config = vscode.workspace.getConfiguration('winnow');
  const inspection = config.inspect<string>('generatorModel');
  if (inspection?.workspaceValue !== undefined) {
    await config.update('generatorModel', spec, vscode.ConfigurationTarget.Workspace);
    return 'the workspace settings';
  }
  await config.update('generatorModel', spec, vscode.ConfigurationTarget.Global);
  return 'your user settings';
}

async function download(
  controller: ServerController,
  client: LanguageClient,
  spec: string,
  label: string,
  output: vscode.LogOutputChannel,
): Promise<boolean> {
  let outcome;
  try {
    outcome = await controller.withDownload(`Winnow: downloading ${label}`, (workDoneToken, cancelRequest) =>
      client.sendRequest(
        ExecuteCommandRequest.type,
        { command: MODEL_COMMANDS.download, arguments: [spec], workDoneToken },
        cancelRequest,
      ),
    );
  } catch (error) {
    outcome = { result: { error: describeError(error) }, cancelled: false };
  }
  const result = parseDownloadResult(outcome.result, spec);
  output.info(`winnow.models.download ${spec}: ${JSON.stringify(result)}`);
  if (result.cancelled || (outcome.cancelled && result.path === null)) {
    void vscode.window.showInformationMessage(`Winnow: the download of ${label} was cancelled; the model in use stays.`);
    return false;
  }
  if (result.error !== null || result.path === null) {
    const choice = await vscode.window.showErrorMessage(
      `Winnow: could not download ${label}: ${result.error ?? 'the server named no file'}`,
      ACTIONS.chooseModel,
      ACTIONS.showOutput,
    );
    if (choice === ACTIONS.chooseModel) {
      await chooseModel(controller, output);
    } else if (choice === ACTIONS.showOutput) {
      output.show(true);
    }
    return false;
  }
  return true;
}

/** The command: pick, download when needed, set the setting. */
export async function chooseModel(controller: ServerController, output: vscode.LogOutputChannel): Promise<void> {
  const client = controller.runningClient;
  if (!client) {
    void vscode.window.showWarningMessage('Winnow: the server is not running, so it cannot list its models.', ACTIONS.showOutput);
    return;
  }
  if (!controller.serverHas(MODEL_COMMANDS.list)) {
    const choice = await vscode.window.showErrorMessage(
      `Winnow: this server cannot list models (it has no ${MODEL_COMMANDS.list} command). Set winnow.generatorModel ` +
        'yourself: default, a .gguf path, or hf:OWNER/REPO/FILE.gguf.',
      ACTIONS.openSettings,
    );
    if (choice === ACTIONS.openSettings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'winnow.generatorModel');
    }
    return;
  }
  const listing: Promise<ModelList> = Promise.resolve(
    client.sendRequest(ExecuteCommandRequest.type, { command: MODEL_COMMANDS.list, arguments: [] }),
  ).then((value: unknown) => {
      const list = parseModelList(value);
      if (!list) {
        throw new Error(`unexpected answer to ${MODEL_COMMANDS.list}: ${JSON.stringify(value)}`);
      }
      return list;
  });
  let picked: PickItem | undefined;
  let list: ModelList;
  try {
    picked = await vscode.window.showQuickPick<PickItem>(
      listing.then(pickItems),
      {
        title: 'Winnow: Choose Model',
        placeHolder: 'The model that writes the suggestions (the judge stays as winnow.judge says)',
        matchOnDescription: true,
        matchOnDetail: true,
      },
    );
    list = await listing;
  } catch (error) {
    const choice = await vscode.window.showErrorMessage(
      `Winnow: could not list the models: ${describeError(error)}`,
      ACTIONS.showOutput,
    );
    if (choice === ACTIONS.showOutput) {
      output.show(true);
    }
    return;
  }
  if (!picked?.action) {
    return;
  }
  const choice = await specOf(picked.action);
  if (!choice) {
    return;
  }
  if (choice.spec === list.current && !choice.download) {
    void vscode.window.showInformationMessage(`Winnow already uses ${choice.label}.`);
    return;
  }
  if (choice.download) {
    if (!controller.serverHas(MODEL_COMMANDS.download)) {
      void vscode.window.showErrorMessage(`Winnow: this server cannot download models (no ${MODEL_COMMANDS.download} command).`);
      return;
    }
    if (!(await download(controller, client, choice.spec, choice.label, output))) {
      return;
    }
  }
  const where = await setGeneratorModel(choice.spec);
  output.info(`winnow.generatorModel set to ${choice.spec} in ${where}.`);
  void vscode.window.showInformationMessage(`Winnow: loading ${choice.label} (winnow.generatorModel, in ${where}).`);
}

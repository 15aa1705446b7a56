"""Run the workflows (statemachines/confirm.asl.json, sync.asl.json) locally, on moto's Step Functions.

moto can execute a real ASL definition (`execute_state_machine`), but its Lambda backend without
Docker never runs code. `InProcessLambdas` fills that gap: while active, every Lambda invoke that
moto makes (the state machine's `lambda:invoke` tasks) calls the function's own handler in this
process — `functions/<name>/app.py`, or the template's InlineCode — and reports a raised exception
the way Lambda does (FunctionError "Unhandled", payload {errorType: class name, errorMessage}), so
Retry/Catch on the SPEC error types behave as on AWS.

`definition()` applies DefinitionSubstitutions as CloudFormation does, with local ARNs for the
template's functions and the given queue URL, so the definition under test is the shipped one;
`machine_definition()` does the same for any state machine of the template, given the values of the
resources its substitutions `!Ref` (e.g. the sync workflow's work bucket).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capi_writeback_local.cfn_template import DEFAULT_TEMPLATE, load_template, resources_of_type
from capi_writeback_local.lambda_runtime import FunctionPool, LambdaContext

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINE = "ConfirmWorkflow"
SYNC_STATE_MACHINE = "SyncWorkflow"
ACCOUNT = "123456789012"
FUNCTION_PREFIX = "capi-writeback-"

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class WorkflowFunction:
    """A Lambda the workflow calls: its folder under functions/, or inline code from the template."""

    logical_id: str
    folder: str | None
    inline_code: str | None
    handler: str

    @property
    def name(self) -> str:
        """The local function name, e.g. 'capi-writeback-confirm-function'."""
        return FUNCTION_PREFIX + re.sub(r"(?<!^)(?=[A-Z])", "-", self.logical_id).lower()

    def arn(self, region: str = "us-east-1", account: str = ACCOUNT) -> str:
        return f"arn:aws:lambda:{region}:{account}:function:{self.name}"


def _state_machine(template: Mapping[str, Any], machine: str = STATE_MACHINE) -> dict[str, Any]:
    machines = resources_of_type(dict(template), "AWS::Serverless::StateMachine")
    return dict(machines[machine]["Properties"])


def workflow_functions(template_path: str | Path = DEFAULT_TEMPLATE,
                       machine: str = STATE_MACHINE) -> dict[str, WorkflowFunction]:
    """Substitution key -> the function it names (from DefinitionSubstitutions `!GetAtt X.Arn`)."""
    template = load_template(template_path)
    functions = resources_of_type(template, "AWS::Serverless::Function")
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    handler_default = globals_.get("Handler", "app.lambda_handler")
    found: dict[str, WorkflowFunction] = {}
    for key, value in (_state_machine(template, machine).get("DefinitionSubstitutions") or {}).items():
        if not (isinstance(value, dict) and "Fn::GetAtt" in value):
            continue
        logical_id = value["Fn::GetAtt"][0]
        properties = functions[logical_id]["Properties"]
        code_uri = properties.get("CodeUri")
        found[key] = WorkflowFunction(
            logical_id=logical_id,
            folder=str(code_uri).strip("/").split("/")[-1] if code_uri else None,
            inline_code=properties.get("InlineCode"),
            handler=properties.get("Handler", handler_default),
        )
    return found


def definition(queue_url: str, region: str = "us-east-1", account: str = ACCOUNT,
               template_path: str | Path = DEFAULT_TEMPLATE) -> str:
    """The shipped confirm definition with DefinitionSubstitutions applied for a local run."""
    return machine_definition(STATE_MACHINE, {"ApprovalQueue": queue_url}, region, account, template_path)


def machine_definition(machine: str, refs: Mapping[str, str], region: str = "us-east-1",
                       account: str = ACCOUNT, template_path: str | Path = DEFAULT_TEMPLATE) -> str:
    """State machine `machine`'s shipped definition with its DefinitionSubstitutions applied: local
    ARNs for its functions, `refs[logical id]` for each `!Ref` it substitutes."""
    template = load_template(template_path)
    properties = _state_machine(template, machine)
    text = (Path(template_path).parent / properties["DefinitionUri"]).read_text(encoding="utf-8")
    functions = workflow_functions(template_path, machine)
    values: dict[str, str] = {}
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        if key in functions:
            values[key] = functions[key].arn(region, account)
        elif isinstance(value, dict) and value.get("Ref") in refs:
            values[key] = refs[value["Ref"]]
        else:
            raise ValueError(f"no local value for substitution {key}")
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(values)
    if missing:
        raise ValueError(f"definition uses unknown substitutions: {sorted(missing)}")
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


def _load_handler(function: WorkflowFunction) -> Handler:
    attribute = function.handler.rpartition(".")[2]
    if function.inline_code is not None:
        namespace: dict[str, Any] = {"__name__": f"inline_{function.logical_id}"}
        exec(compile(function.inline_code, f"<{function.logical_id} InlineCode>", "exec"), namespace)
        handler: Handler = namespace[attribute]
        return handler
    pool = FunctionPool()
    assert function.folder is not None

    def call(event: Any, context: Any) -> Any:
        return pool.invoke(function.folder or "", event, context)

    return call


class InProcessLambdas:
    """While active, moto's Lambda invokes run the workflow's handlers in this process.

    `calls` records (function name, payload) of every invocation, for tests to inspect.
    """

    def __init__(self, template_path: str | Path = DEFAULT_TEMPLATE,
                 machines: tuple[str, ...] = (STATE_MACHINE, SYNC_STATE_MACHINE)) -> None:
        self.functions = {f.name: f for machine in machines
                          for f in workflow_functions(template_path, machine).values()}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.calls: list[tuple[str, Any]] = []
        self._patch: Any = None

    def handler(self, function_name: str) -> Handler:
        name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        with self._lock:
            if name not in self._handlers:
                if name not in self.functions:
                    raise KeyError(f"not a workflow function: {function_name}")
                self._handlers[name] = _load_handler(self.functions[name])
            return self._handlers[name]

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, Any]) -> bytes:
        """One invocation with Lambda's result/error shape."""
        payload = json.loads(body) if body else {}
        name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
        with self._lock:
            self.calls.append((name, payload))
        try:
            context = LambdaContext(name, "us-east-1", ACCOUNT, timeout_s=900)
            result = self.handler(function_name)(payload, context)
        except Exception as exc:  # Lambda reports the class name as errorType
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                               "stackTrace": []}).encode()
        return json.dumps(result).encode()

    def __enter__(self) -> InProcessLambdas:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        owner = self

        def invoke(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                   response_headers: Any) -> bytes:
            return owner.invoke(function_name, body, response_headers)

        self._patch = LambdaSimpleBackend.invoke
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self._patch is not None:
            LambdaSimpleBackend.invoke = self._patch  # type: ignore[method-assign]
            self._patch = None


@contextmanager
def in_process_lambdas(template_path: str | Path = DEFAULT_TEMPLATE) -> Iterator[InProcessLambdas]:
    """`with in_process_lambdas() as lambdas:` — see InProcessLambdas."""
    with InProcessLambdas(template_path) as lambdas:
        yield lambdas

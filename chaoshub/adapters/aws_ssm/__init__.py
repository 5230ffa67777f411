"""The ``aws-ssm`` adapter: chaos on EC2 fleets through Systems Manager Run Command.

It sends the AWS-published ``AWSFIS-Run-*`` SSM documents (the ones AWS FIS's
``aws:ssm:send-command`` action uses) straight to instances with ``SendCommand``, one
command per target, parameters as lists of strings and ``DurationSeconds`` from the run's
duration. The document holds the fault and ends it by itself (time control ``external``);
the adapter polls ``GetCommandInvocation`` per instance and step, and can abort.

**Backend config** (:data:`~chaoshub.adapters.aws_ssm.settings.CONFIG_SCHEMA`): ``region``;
credentials from ``role_arn`` (assumed, renewed before expiry), a ``profile``, or the
default chain; ``endpoint_url`` (tests, VPC endpoints); ``log_group`` for CloudWatch
output; ``documents`` to name an account's own document (and version) per fault;
``require_ssm_online``; polling, back-off and timeout knobs.

**Targets.** A selector names ``instance_ids``, ``tags`` and/or EC2 ``filters``, then
``limit`` or ``percent`` (random, ``seed`` to repeat). Only running instances whose SSM
agent is Online on Linux are eligible; the others are named with their reason
(:mod:`chaoshub.adapters.aws_ssm.targets`).

**Status.** ``Pending``/``Delayed`` → pending, ``InProgress``/``Cancelling`` → injected,
``Success`` → done, ``Cancelled`` → aborted, ``Failed``/``TimedOut`` → failed; the native
text keeps the status, its details, each step's status and the output's last line, the
messages the output's tail. A document's last step is taken as the one that applies the
fault. A network fault whose document returned ``Success`` before its duration is up
stays injected (see Abort).

**Checked against.** SSM API 2014-11-06 and EC2 API 2016-11-15 as botocore 1.44 models
them; the parameter sets of the ``AWSFIS-Run-*`` documents as the AWS FIS user guide
("Use the AWS FIS aws:ssm:send-command action") lists them, and the scripts of their
public origin (adhorn/chaos-ssm-documents, ``run-command/*.yml``) for how they hold and
roll back a fault. Tested on moto 5.2 (``moto_server``, real HTTP and boto3 1.44) for
EC2 instances, tags, documents, SendCommand, ListCommands and GetCommandInvocation, and
with ``botocore.stub.Stubber`` for what moto cannot answer (CancelCommand,
DescribeInstanceInformation, in-progress, cancelling, timed-out and failed invocations,
throttling, InvocationDoesNotExist, multi-step documents). The rollback script runs for
real in a network namespace in the tests, except its netem branch (no ``sch_netem`` on
the test kernel). Never run against real AWS or a real SSM agent.

**Abort.** ``recover`` cancels the command (``CancelCommand``) and confirms by polling
until the invocation has ended. The ``AWSFIS-Run-*`` network documents hold their fault
inside the script and trap SIGTERM to remove it; but a network document may also have
*returned* while its fault is still held (one that schedules its own removal with ``at``
and exits, as AWSSSMChaosRunner's do, or a backend's own document), or been killed before
its trap ran; cancelling then changes nothing on the host. So for a network fault that
ends before its duration is up, ``recover`` then sends a fixed rollback script
(:mod:`chaoshub.adapters.aws_ssm.rollback`, through ``AWS-RunShellScript``, or the backend's
``rollback_document``) that runs the documents' own leftover rollback scripts, removes
netem qdiscs, ifb redirects and the documents' iptables chains, and fails if any remain;
recovery succeeds only when that command succeeds. ``status`` reports such a fault as
``injected`` until its duration is up or the rollback has succeeded.

**If the hub goes away.** The execution's lease is not used: the document is its own
dead-man switch, ending the fault after ``DurationSeconds`` whether or not anyone polls.

**Idempotency.** SendCommand has no client token; each command's ``Comment`` is derived
from the execution id (:func:`~chaoshub.adapters.aws_ssm.commands.comment_for`), and ``inject`` and
``recover`` look it up with ListCommands first, so a retried inject adopts the command and
a handle without data can still be recovered.

**Cannot.** Pause (SSM cannot suspend a running command). Prevent two workers that
inject the same execution at the very same moment from both sending (ListCommands is
eventually consistent). Hold a stress fault beyond ``aws:runShellScript``'s default
execution timeout, 3600 s by third-party accounts and not verified here (the invocation
would end ``TimedOut``, reported as failed).
Run on Windows or on-premises managed nodes (the documents are Linux-on-EC2 only). See
output beyond SSM's 24,000 characters unless a CloudWatch ``log_group`` is configured.
Tell which of several network faults on one host is whose (the documents refuse to run
two at once; the rollback removes every one it finds once no network document runs).
"""

from chaoshub.adapters.aws_ssm.adapter import AwsSsmAdapter

__all__ = ["AwsSsmAdapter"]

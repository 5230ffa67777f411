import { Alert, Anchor, Badge, Button, FileButton, Group, Paper, Stack, Text, Textarea, TextInput, Title, Tooltip } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconArrowBackUp, IconArrowForwardUp, IconCalendarTime, IconDeviceFloppy, IconDownload, IconPlayerPlay, IconUpload } from '@tabler/icons-react';
import { Controls, MarkerType, ReactFlow, ReactFlowProvider, useReactFlow, type Connection, type Edge, type EdgeChange, type Node, type NodeChange } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { useClient, useMutation, useQuery } from 'urql';
import { parse, stringify } from 'yaml';
import { asHubError } from '../api/client';
import { FAULT_TYPES } from '../api/documents';
import type { Backend, FaultType, HubError, JsonObject } from '../api/types';
import { CREATE_WORKFLOW, START_WORKFLOW, UPDATE_WORKFLOW, VALIDATE_WORKFLOW, WORKFLOW, type ValidationIssue, type Workflow } from '../api/workflows';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { ScheduleModal } from '../components/schedules/ScheduleForm';
import { NODE_TYPES, type StepNodeData } from '../components/workflow/nodes';
import { DND_TYPE, Palette } from '../components/workflow/Palette';
import { LaneProbePanel, StepPanel, type FieldIssue } from '../components/workflow/StepPanel';
import { useHistory } from '../workflow/history';
import type { LaneSpec } from '../workflow/layout';
import {
  addDependency,
  asWorkflowDoc,
  branchOf,
  freshProbeName,
  issueTarget,
  newStep,
  probeKindOf,
  probeTemplate,
  removeDependency,
  removeStep,
  renameStep,
  stepKind,
  type Lane,
  type PaletteItem,
  type StepDoc,
  type WorkflowDoc,
} from '../workflow/model';
import { useLayout } from '../workflow/useLayout';

const EMPTY: WorkflowDoc = { kind: 'Workflow', name: 'my-workflow', steadyState: [], stopConditions: [], steps: [] };

/** The document as sent: empty lanes and the editor's own defaults left out. */
function clean(doc: WorkflowDoc): JsonObject {
  const out: JsonObject = { kind: 'Workflow', ...doc };
  if (!doc.steadyState?.length) delete out.steadyState;
  if (!doc.stopConditions?.length) delete out.stopConditions;
  if (!doc.description) delete out.description;
  return JSON.parse(JSON.stringify(out));
}

function subtitle(step: StepDoc): string {
  const k = stepKind(step);
  if (k === 'fault') return `${step.fault?.faultType ?? 'fault'} on ${step.fault?.backend || '?'}`;
  if (k === 'probe') return `${probeKindOf(step.probe)} probe`;
  if (k === 'wait') return `wait ${step.wait?.seconds ?? '?'} s`;
  return String(step.approval?.message ?? 'approval');
}

function Editor() {
  const { id } = useParams();
  const navigate = useNavigate();
  const client = useClient();
  const canOperate = useCan('operator');
  const phone = useMediaQuery('(max-width: 700px)');
  const readOnly = !canOperate || !!phone;
  const { screenToFlowPosition, fitView } = useReactFlow();
  const history = useHistory<WorkflowDoc>(EMPTY);
  const doc = history.value;
  const [savedId, setSavedId] = useState<string | null>(id ?? null);
  const [version, setVersion] = useState<number | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [selectedEdge, setSelectedEdge] = useState<string | null>(null);
  const [issues, setIssues] = useState<ValidationIssue[]>([]);
  const [validatedFor, setValidatedFor] = useState<string>('');
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [scheduling, setScheduling] = useState(false);
  const [{ data: catalog }] = useQuery<{ faultTypes: FaultType[]; backends: Backend[] }>({ query: FAULT_TYPES });
  const [{ data: loaded, error: loadError }] = useQuery<{ workflow: Workflow | null }>({ query: WORKFLOW, variables: { id }, pause: !id, requestPolicy: 'network-only' });
  const [{ fetching: saving }, save] = useMutation(savedId ? UPDATE_WORKFLOW : CREATE_WORKFLOW);
  const [{ fetching: starting }, start] = useMutation(START_WORKFLOW);
  const faults = useMemo(() => catalog?.faultTypes ?? [], [catalog]);
  const { reset } = history;

  useEffect(() => {
    if (loaded?.workflow) {
      reset(asWorkflowDoc(loaded.workflow.document));
      setVersion(loaded.workflow.version);
    }
  }, [loaded, reset]);

  // --- validation as you edit: the hub's own checks, every issue on the field it names ---
  const sent = useMemo(() => JSON.stringify(clean(doc)), [doc]);
  useEffect(() => {
    let live = true;
    const timer = window.setTimeout(async () => {
      const res = await client.query(VALIDATE_WORKFLOW, { document: JSON.parse(sent) }, { requestPolicy: 'network-only' }).toPromise();
      if (!live) return;
      if (res.data) {
        setIssues(res.data.validateWorkflow as ValidationIssue[]);
        setValidatedFor(sent);
      }
    }, 350);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [sent, client]);
  const current = validatedFor === sent;
  const byNode = useMemo(() => {
    const map = new Map<string | null, FieldIssue[]>();
    for (const i of issues) {
      const t = issueTarget(doc, i.field);
      map.set(t.node, [...(map.get(t.node) ?? []), { rest: t.rest, message: i.message }]);
    }
    return map;
  }, [issues, doc]);

  // --- YAML, kept in sync both ways ---
  const [yamlText, setYamlText] = useState(() => stringify(clean(EMPTY)));
  const [yamlError, setYamlError] = useState<string | null>(null);
  const fromYaml = useRef(false);
  useEffect(() => {
    if (fromYaml.current) {
      fromYaml.current = false;
      return;
    }
    setYamlText(stringify(JSON.parse(sent)));
    setYamlError(null);
  }, [sent]);
  const onYaml = (text: string) => {
    setYamlText(text);
    try {
      const value = parse(text);
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('the document must be a mapping (name, steps, …)');
      setYamlError(null);
      const next = asWorkflowDoc(value);
      if (JSON.stringify(clean(next)) !== sent) {
        fromYaml.current = true;
        history.commit(next, 'yaml');
      }
    } catch (exc) {
      setYamlError((exc as Error).message);
    }
  };

  // --- the graph ---
  const steady = useMemo(() => doc.steadyState ?? [], [doc.steadyState]);
  const stops = useMemo(() => doc.stopConditions ?? [], [doc.stopConditions]);
  const layoutSteps = doc.steps.map((s) => ({ key: `step:${s.id}`, after: (s.after ?? []).map((a) => `step:${a}`) }));
  const lanes: LaneSpec[] = [
    { id: 'lane:stopConditions', label: 'Stop conditions · drop probes here', placement: 'top', keys: stops.map((_, i) => `stopConditions:${i}`) },
    { id: 'lane:steadyState', label: 'Steady state · before and after', placement: 'left', keys: steady.map((_, i) => `steadyState:${i}`) },
  ];
  const layout = useLayout(layoutSteps, lanes);
  // Every step in view after the graph's shape changed (added, removed, joined) or the side panel opened.
  const panelOpen = !!selected;
  const fit = useRef(fitView);
  useEffect(() => {
    fit.current = fitView;
  });
  useEffect(() => {
    if (!layout) return;
    const frame = window.requestAnimationFrame(() => fit.current({ padding: 0.12, maxZoom: 1 }));
    return () => window.cancelAnimationFrame(frame);
  }, [layout, panelOpen]);
  const nodes: Node[] = useMemo(() => {
    if (!layout) return [];
    const out: Node[] = layout.lanes.map((l) => ({
      id: l.id,
      type: 'lane',
      position: { x: l.x, y: l.y },
      data: { label: l.label, testId: l.id.replace(':', '-') },
      style: { width: l.w, height: l.h },
      selectable: false,
      draggable: false,
      deletable: false,
      focusable: false,
      zIndex: -1,
    }));
    const put = (key: string, data: StepNodeData) =>
      out.push({ id: key, type: 'step', position: layout.positions[key] ?? { x: 0, y: 0 }, data, selected: key === selected, draggable: false, deletable: !readOnly, ariaLabel: `${data.kind} ${data.title}` });
    doc.steps.forEach((s) => put(`step:${s.id}`, { title: s.id, kind: stepKind(s), subtitle: subtitle(s), issues: (byNode.get(`step:${s.id}`) ?? []).map((i) => `${i.rest.join('.')}: ${i.message}`) }));
    (['steadyState', 'stopConditions'] as Lane[]).forEach((lane) =>
      (lane === 'steadyState' ? steady : stops).forEach((p, i) =>
        put(`${lane}:${i}`, { title: String(p.name ?? `probe ${i + 1}`), kind: 'probe', subtitle: `${probeKindOf(p)} probe`, handles: false, issues: (byNode.get(`${lane}:${i}`) ?? []).map((x) => `${x.rest.join('.')}: ${x.message}`) }),
      ),
    );
    return out;
  }, [layout, doc.steps, steady, stops, byNode, selected, readOnly]);
  const edges: Edge[] = useMemo(
    () =>
      doc.steps.flatMap((s) =>
        (s.after ?? []).map((a) => {
          const branch = branchOf(s, a);
          const eid = `${a}->${s.id}`;
          return {
            id: eid,
            source: `step:${a}`,
            target: `step:${s.id}`,
            selected: eid === selectedEdge,
            deletable: !readOnly,
            label: branch ?? undefined,
            labelStyle: { fill: branch === 'failed' ? '#c92a2a' : '#2b8a3e', fontWeight: 700 },
            markerEnd: { type: MarkerType.ArrowClosed },
            style: { strokeWidth: 2 },
            ariaLabel: `${s.id} runs after ${a}${branch ? ` when it ${branch}` : ''}`,
          } as Edge;
        }),
      ),
    [doc.steps, selectedEdge, readOnly],
  );

  // --- editing ---
  const add = useCallback(
    (item: PaletteItem, lane?: Lane) => {
      if (readOnly) return;
      if (lane && item.kind === 'probe') {
        const probe = { name: freshProbeName(doc, lane === 'steadyState' ? 'steady' : 'stop'), ...probeTemplate(item.probeKind) };
        const list = [...(doc[lane] ?? []), probe];
        history.commit({ ...doc, [lane]: list });
        setSelected(`${lane}:${list.length - 1}`);
        return;
      }
      const step = newStep(doc, item);
      history.commit({ ...doc, steps: [...doc.steps, step] });
      setSelected(`step:${step.id}`);
    },
    [doc, history, readOnly],
  );
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const raw = e.dataTransfer.getData(DND_TYPE);
    if (!raw) return;
    const item = JSON.parse(raw) as PaletteItem;
    const at = screenToFlowPosition({ x: e.clientX, y: e.clientY });
    const lane = layout?.lanes.find((l) => at.x >= l.x && at.x <= l.x + l.w && at.y >= l.y && at.y <= l.y + l.h);
    add(item, lane ? (lane.id.split(':')[1] as Lane) : undefined);
  };
  const onNodesChange = (changes: NodeChange[]) => {
    let next = doc;
    for (const c of changes) {
      if (c.type === 'select') {
        if (c.selected) {
          setSelected(c.id);
          setSelectedEdge(null);
        } else if (c.id === selected) setSelected(null);
      }
      if (c.type === 'remove' && !readOnly && !c.id.startsWith('lane:')) {
        next = removeNodeFrom(next, c.id);
        if (c.id === selected) setSelected(null);
      }
    }
    if (next !== doc) history.commit(next);
  };
  const removeNodeFrom = (d: WorkflowDoc, key: string): WorkflowDoc => {
    const at = key.indexOf(':');
    const kind = key.slice(0, at);
    const rest = key.slice(at + 1);
    if (kind === 'step') return removeStep(d, rest);
    const lane = kind as Lane;
    return { ...d, [lane]: (d[lane] ?? []).filter((_, i) => i !== Number(rest)) };
  };
  const onEdgesChange = (changes: EdgeChange[]) => {
    let next = doc;
    for (const c of changes) {
      if (c.type === 'select') setSelectedEdge(c.selected ? c.id : null);
      if (c.type === 'remove' && !readOnly) {
        const [from, to] = c.id.split('->');
        next = removeDependency(next, from, to);
      }
    }
    if (next !== doc) history.commit(next);
  };
  const onConnect = (c: Connection) => {
    if (readOnly || !c.source.startsWith('step:') || !c.target.startsWith('step:')) return;
    history.commit(addDependency(doc, c.source.slice(5), c.target.slice(5)));
  };

  // undo / redo from the keyboard (not while typing in a field)
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (t.closest('input, textarea, [contenteditable]')) return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
        e.preventDefault();
        if (e.shiftKey) history.redo();
        else history.undo();
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'y') {
        e.preventDefault();
        history.redo();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [history]);

  // --- save and start ---
  const blocked = !current || issues.length > 0 || !!yamlError;
  const onSave = async () => {
    setHubError(null);
    const input = savedId ? { id: savedId, document: JSON.parse(sent) } : { document: JSON.parse(sent) };
    const res = await save({ input });
    const answer = res.data?.[savedId ? 'updateWorkflow' : 'createWorkflow'];
    const err = asHubError(answer);
    if (err) return setHubError(err);
    if (answer) {
      setSavedId(answer.id);
      setVersion(answer.version);
      notifications.show({ color: 'green', message: `Saved ${answer.name} v${answer.version}` });
      if (!id) navigate(`/workflows/${answer.id}/edit`, { replace: true });
    }
  };
  const onStart = async () => {
    setHubError(null);
    const res = await start({ input: { document: JSON.parse(sent) } });
    const answer = res.data?.startWorkflow;
    const err = asHubError(answer);
    if (err) return setHubError(err);
    if (answer) navigate(`/workflow-runs/${answer.id}`);
  };
  const exportYaml = () => {
    const blob = new Blob([yamlText], { type: 'application/yaml' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${doc.name || 'workflow'}.yaml`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  const selStep = selected?.startsWith('step:') ? doc.steps.find((s) => `step:${s.id}` === selected) : undefined;
  const selLane = selected && !selected.startsWith('step:') ? (selected.split(':') as [Lane, string]) : null;
  const laneProbe = selLane ? (doc[selLane[0]] ?? [])[Number(selLane[1])] : undefined;
  const workflowIssues = byNode.get(null) ?? [];

  if (loadError) return <ErrorAlert error={loadError} title="Could not load this workflow" />;
  return (
    <Stack gap="sm" data-testid="workflow-editor">
      <Group justify="space-between" align="flex-end">
        <div>
          <Anchor component={Link} to="/workflows" size="sm">
            ← Workflows
          </Anchor>
          <Group gap="xs">
            <Title order={2}>{id ? doc.name || 'Workflow' : 'New workflow'}</Title>
            {version != null && <Badge variant="outline">v{version}</Badge>}
            {!current ? (
              <Badge color="gray" variant="light" data-testid="validity">
                checking…
              </Badge>
            ) : issues.length ? (
              <Badge color="red" data-testid="validity">
                {issues.length} issue{issues.length === 1 ? '' : 's'}
              </Badge>
            ) : (
              <Badge color="green" data-testid="validity">
                valid
              </Badge>
            )}
          </Group>
          {readOnly && (
            <Text size="sm" c="dimmed">
              {phone ? 'Read-only on a small screen: open this page on a wider one to edit.' : 'Read-only: your role cannot change workflows.'}
            </Text>
          )}
        </div>
        {!readOnly && (
          <Group gap="xs">
            <Tooltip label="Undo (Ctrl+Z)">
              <Button variant="default" onClick={history.undo} disabled={!history.canUndo} leftSection={<IconArrowBackUp size={16} />} data-testid="undo">
                Undo
              </Button>
            </Tooltip>
            <Tooltip label="Redo (Ctrl+Shift+Z)">
              <Button variant="default" onClick={history.redo} disabled={!history.canRedo} leftSection={<IconArrowForwardUp size={16} />} data-testid="redo">
                Redo
              </Button>
            </Tooltip>
            <FileButton
              accept=".yaml,.yml,application/yaml,text/yaml"
              onChange={async (file) => {
                if (file) onYaml(await file.text());
              }}
            >
              {(props) => (
                <Button variant="default" leftSection={<IconUpload size={16} />} {...props}>
                  Import
                </Button>
              )}
            </FileButton>
            <Button variant="default" leftSection={<IconDownload size={16} />} onClick={exportYaml}>
              Export
            </Button>
            <Button variant="light" leftSection={<IconDeviceFloppy size={16} />} onClick={onSave} loading={saving} disabled={blocked} data-testid="save-workflow">
              Save
            </Button>
            <Button color="orange" leftSection={<IconPlayerPlay size={16} />} onClick={onStart} loading={starting} disabled={blocked} data-testid="start-workflow">
              Start
            </Button>
            {savedId && (
              <Tooltip label="Start the saved workflow on a timetable">
                <Button variant="light" leftSection={<IconCalendarTime size={16} />} onClick={() => setScheduling(true)} data-testid="schedule-workflow">
                  Schedule…
                </Button>
              </Tooltip>
            )}
          </Group>
        )}
      </Group>
      <ErrorAlert hubError={hubError} />
      {savedId && (
        <ScheduleModal
          opened={scheduling}
          onClose={() => setScheduling(false)}
          target={{ workflowId: savedId, name: loaded?.workflow?.name ?? doc.name }}
          onSaved={(s) => navigate(`/schedules/${s.id}`)}
        />
      )}
      {workflowIssues.length > 0 && (
        <Alert color="red" p="xs" data-testid="workflow-issues">
          {workflowIssues.map((i, n) => (
            <Text size="sm" key={n}>
              {i.rest.join('.') || 'workflow'}: {i.message}
            </Text>
          ))}
        </Alert>
      )}
      <Group gap="sm" align="flex-end">
        <TextInput label="Name" value={doc.name} readOnly={readOnly} onChange={(e) => history.commit({ ...doc, name: e.currentTarget.value }, 'name')} w={280} data-testid="workflow-name" />
        <TextInput label="Description" value={String(doc.description ?? '')} readOnly={readOnly} onChange={(e) => history.commit({ ...doc, description: e.currentTarget.value }, 'description')} style={{ flex: 1, minWidth: 200 }} />
      </Group>
      <Group align="flex-start" gap="sm" wrap={phone ? 'wrap' : 'nowrap'}>
        {!readOnly && <Palette faults={faults} backends={catalog?.backends ?? []} onAdd={(item) => add(item)} />}
        <div
          className="wf-canvas"
          style={{ height: phone ? 420 : 620, flex: 1, minWidth: 0 }}
          data-testid="editor-canvas"
          onDragOver={(e) => {
            e.preventDefault();
            e.dataTransfer.dropEffect = 'copy';
          }}
          onDrop={onDrop}
        >
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            onPaneClick={() => {
              setSelected(null);
              setSelectedEdge(null);
            }}
            nodesConnectable={!readOnly}
            deleteKeyCode={readOnly ? null : ['Delete', 'Backspace']}
            fitView
            minZoom={0.2}
            proOptions={{ hideAttribution: true }}
            ariaLabelConfig={{ 'node.a11yDescription.default': 'Press Enter to select this step, Delete to remove it.' }}
          >
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
        {selStep && (
          <StepPanel
            key={selStep.id}
            doc={doc}
            step={selStep}
            issues={byNode.get(`step:${selStep.id}`) ?? []}
            faults={faults}
            backends={catalog?.backends ?? []}
            readOnly={readOnly}
            onChange={(next, tag) => history.commit({ ...doc, steps: doc.steps.map((s) => (s.id === selStep.id ? next : s)) }, tag)}
            onRename={(to) => {
              if (!to || doc.steps.some((s) => s.id === to)) return;
              history.commit(renameStep(doc, selStep.id, to));
              setSelected(`step:${to}`);
            }}
            onDelete={() => {
              history.commit(removeStep(doc, selStep.id));
              setSelected(null);
            }}
          />
        )}
        {selLane && laneProbe && (
          <LaneProbePanel
            key={selected}
            lane={selLane[0]}
            probe={laneProbe}
            issues={byNode.get(selected) ?? []}
            readOnly={readOnly}
            onChange={(p) => history.commit({ ...doc, [selLane[0]]: (doc[selLane[0]] ?? []).map((x, i) => (i === Number(selLane[1]) ? p : x)) }, `lane:${selected}`)}
            onDelete={() => {
              history.commit(removeNodeFrom(doc, selected!));
              setSelected(null);
            }}
          />
        )}
      </Group>
      <Paper withBorder p="sm">
        <Title order={5} mb={4}>
          YAML
        </Title>
        <Text size="xs" c="dimmed" mb={4}>
          The same document: what the CLI runs is exactly what the canvas shows. Edits here redraw the canvas.
        </Text>
        <Textarea
          value={yamlText}
          onChange={(e) => onYaml(e.currentTarget.value)}
          readOnly={readOnly}
          autosize
          minRows={8}
          maxRows={30}
          spellCheck={false}
          styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
          error={yamlError ? `not applied: ${yamlError}` : undefined}
          aria-label="Workflow YAML"
          data-testid="workflow-yaml"
        />
      </Paper>
    </Stack>
  );
}

export function WorkflowEditorPage() {
  const { id } = useParams();
  return (
    <ReactFlowProvider key={id ?? 'new'}>
      <Editor />
    </ReactFlowProvider>
  );
}

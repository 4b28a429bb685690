package crm

import (
	"net/http"
)

// Task statuses and priorities.
var (
	taskStatuses   = []string{"todo", "doing", "done", "snoozed"}
	taskPriorities = []string{"critique", "haute", "moyenne", "basse", "non_prioritaire"}
)

// TaskDone is the status of a completed task.
const TaskDone = "done"

// Task is a to-do of the team, optionally about an organisation or person.
type Task struct {
	ID             int     `json:"id"`
	Title          string  `json:"title"`
	Description    *string `json:"description"`
	Status         string  `json:"status"`   // todo unless given
	Priority       string  `json:"priority"` // moyenne unless given
	DueDate        string  `json:"due_date"`
	SnoozedUntil   *string `json:"snoozed_until"`
	CompletedAt    *Time   `json:"completed_at"` // set when the task becomes done, cleared when it is reopened
	OrganisationID *int    `json:"organisation_id"`
	PersonID       *int    `json:"person_id"`
	CreatedBy      int     `json:"created_by"`
	CreatedAt      Time    `json:"created_at"`
	UpdatedAt      Time    `json:"updated_at"`
}

var taskFields = []string{"title", "description", "status", "priority", "due_date", "organisation_id", "person_id"}

func applyTask(f *form, t *Task) []FieldError {
	f.allow(taskFields...)
	if v, _ := f.str("title", field{required: true, max: 255}); v != nil {
		t.Title = *v
	}
	v, given := f.str("description", field{nullable: true})
	setStr(&t.Description, v, given)
	if v, _ := f.enum("status", field{}, taskStatuses); v != nil {
		t.Status = *v
	}
	if v, _ := f.enum("priority", field{}, taskPriorities); v != nil {
		t.Priority = *v
	}
	if v, _ := f.date("due_date", field{required: true}); v != nil {
		t.DueDate = *v
	}
	id, given := f.id("organisation_id", field{nullable: true})
	setID(&t.OrganisationID, id, given)
	id, given = f.id("person_id", field{nullable: true})
	setID(&t.PersonID, id, given)
	return f.errs
}

func (s *Server) tasks() *resource[Task] {
	return &resource[Task]{
		s: s, param: "task_id", what: "Tâche", table: &s.db.tasks,
		apply: applyTask,
		finish: func(old, t *Task, now Time) error {
			wasDone := old != nil && old.Status == TaskDone
			switch {
			case t.Status == TaskDone && !wasDone:
				t.CompletedAt = &now
			case t.Status != TaskDone:
				t.CompletedAt = nil
			}
			if t.Status != "snoozed" {
				t.SnoozedUntil = nil
			}
			return s.db.checkRefs(t.OrganisationID, t.PersonID)
		},
		touch: func(t *Task, now Time) { t.UpdatedAt = now },
	}
}

// createTask handles POST /api/v1/tasks: 201; 422. A JSON array of tasks
// creates them all (batch.go).
func (s *Server) createTask(w http.ResponseWriter, r *http.Request) {
	now := newTime(s.now())
	s.tasks().post(w, r, Task{Status: "todo", Priority: "moyenne", CreatedBy: user(r).ID, CreatedAt: now, UpdatedAt: now},
		func(t *Task, id int) { t.ID = id })
}

// listTasks handles GET /api/v1/tasks[?status=&skip=&limit=].
func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	s.tasks().list(w, r, func(t *Task) bool { return status == "" || t.Status == status })
}

// getTask handles GET /api/v1/tasks/{task_id}: 200; 404.
func (s *Server) getTask(w http.ResponseWriter, r *http.Request) { s.tasks().get(w, r) }

// updateTask handles PUT /api/v1/tasks/{task_id}: 200; 404; 422. Setting
// status "done" completes the task (completed_at); any other status
// reopens it.
func (s *Server) updateTask(w http.ResponseWriter, r *http.Request) { s.tasks().update(w, r) }

// deleteTask handles DELETE /api/v1/tasks/{task_id}: 204; 404.
func (s *Server) deleteTask(w http.ResponseWriter, r *http.Request) { s.tasks().remove(w, r, nil) }

// Quick actions of POST /api/v1/tasks/{task_id}/quick-action.
var taskActions = []string{"mark_done", "snooze_1d", "snooze_1w", "next_day"}

// taskQuickAction handles POST /api/v1/tasks/{task_id}/quick-action with
// {"action": "mark_done" | "snooze_1d" | "snooze_1w" | "next_day"}: 200
// with the task. mark_done completes it (a done task stays as it is);
// snooze_1d/snooze_1w put it off by a day/a week from its due date (or
// today if later), status "snoozed"; next_day moves it to tomorrow. 404;
// 409 when snoozing or moving a done task; 422 unknown action.
func (s *Server) taskQuickAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "task_id")
	if !ok {
		return
	}
	obj, ok := readObject(w, r)
	if !ok {
		return
	}
	f := &form{raw: obj, create: true}
	f.allow("action")
	action, _ := f.enum("action", field{required: true}, taskActions)
	if f.errs != nil {
		writeInvalid(w, f.errs)
		return
	}
	day := today(s.now())
	s.tasks().change(w, id, func(t *Task) ([]FieldError, error) {
		if *action == "mark_done" {
			t.Status = TaskDone
			return nil, nil
		}
		if t.Status == TaskDone {
			return nil, &conflictError{"Tâche " + itoa(id) + " déjà terminée"}
		}
		from := max(t.DueDate, day) // dates compare as strings
		switch *action {
		case "snooze_1d", "snooze_1w":
			n := map[string]int{"snooze_1d": 1, "snooze_1w": 7}[*action]
			t.DueDate = addDays(from, n)
			t.Status = "snoozed"
			until := t.DueDate
			t.SnoozedUntil = &until
		case "next_day":
			t.DueDate = addDays(day, 1)
		}
		return nil, nil
	})
}
